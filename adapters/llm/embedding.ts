import { Context, Effect, Layer } from "effect";
import type { LlamaEmbeddingContext, LlamaModel, Token } from "node-llama-cpp";
import { InferenceError, type LlmError, ModelLoadError, reasonOf } from "./errors.ts";
import { identify } from "./identity.ts";
import type { Embedder, ModelIdentity } from "./ports.ts";
import { probeModel } from "./probe.ts";
import { llamaRuntime, Mutex, type RuntimeOptions } from "./runtime.ts";

export interface EmbedderOptions extends RuntimeOptions {
  readonly modelPath: string;
  readonly contextSize?: number;
  readonly threads?: number;
  readonly probe?: boolean;
}

/** Scales a vector to unit length; a zero vector (no content word) stays zero. */
export const l2normalise = (v: ArrayLike<number>): Float32Array => {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  const n = Math.sqrt(s);
  return Float32Array.from(v, (x) => (n > 0 ? x / n : 0));
};

class LlamaEmbedder implements Embedder {
  private readonly lock = new Mutex();
  constructor(
    readonly identity: ModelIdentity,
    private readonly model: LlamaModel,
    private readonly context: LlamaEmbeddingContext,
    private readonly contextSize: number,
  ) {}
  get dimension(): number { return this.model.embeddingVectorSize; }
  get pooling(): "mean" | "cls" | "last" | "none" {
    const p = this.identity.pooling;
    return p === "mean" || p === "cls" || p === "last" ? p : "none";
  }

  /**
   * Each text is embedded whole when it fits the model's usable context, special tokens included;
   * a longer one is cut into consecutive chunks that each fit, and their vectors are pooled (a mean
   * weighted by each chunk's tokens, which for mean pooling is the mean over the whole text).
   */
  embed(texts: readonly string[]): Effect.Effect<Float32Array[], LlmError> {
    return Effect.tryPromise({
      try: () => this.lock.run(async () => {
        if (this.disposed) throw new Error("the embedder was disposed");
        const out: Float32Array[] = [];
        for (const text of texts) out.push(await this.embedOne(text));
        return out;
      }),
      catch: (e) => new InferenceError({ operation: "embed", reason: reasonOf(e) }),
    });
  }

  private async embedOne(text: string): Promise<Float32Array> {
    const tokens = this.model.tokenize(text);
    if (tokens.length === 0) return new Float32Array(this.dimension);
    const pooled = new Float64Array(this.dimension);
    for (const chunk of chunkTokens(tokens, this.room(), (c) => this.context.calculateInputLength(c) < this.limit)) {
      const v = (await this.context.getEmbeddingFor(chunk)).vector;
      for (let i = 0; i < pooled.length; i++) pooled[i] += (v[i] ?? 0) * chunk.length;
    }
    return l2normalise(pooled);
  }

  /** Input tokens (special ones included) must stay below this: node-llama-cpp's `getEmbeddingFor` test. */
  private get limit(): number { return Math.min(this.contextSize, this.model.trainContextSize || this.contextSize); }

  /** Text tokens per chunk: the limit less the specials node-llama-cpp adds (BOS/[CLS], EOS/[SEP]). */
  private room(): number {
    const specials = this.context.calculateInputLength([]);
    return Math.max(1, this.limit - 1 - specials);
  }

  private disposed = false;

  /** Under the lock, as the language model does: an embed under way finishes first, and one after fails cleanly (a disposed context crashes the process). */
  async dispose(): Promise<void> {
    await this.lock.run(async () => {
      if (this.disposed) return;
      this.disposed = true;
      await this.context.dispose();
      await this.model.dispose();
    });
  }
}

/**
 * Consecutive chunks of at most `room` tokens; a chunk `fits` refuses (a tokenizer adding more than
 * expected) is halved until it fits, and a single token that never fits is an error with the reason.
 */
export const chunkTokens = (tokens: readonly Token[], room: number, fits: (chunk: Token[]) => boolean): Token[][] => {
  const out: Token[][] = [];
  for (let at = 0; at < tokens.length;) {
    let size = Math.min(room, tokens.length - at);
    let chunk = tokens.slice(at, at + size);
    while (!fits(chunk)) {
      if (size === 1) throw new Error(`token ${tokens[at]} alone does not fit the embedder's context`);
      size = Math.max(1, Math.floor(size / 2));
      chunk = tokens.slice(at, at + size);
    }
    out.push(chunk);
    at += size;
  }
  return out;
};

export type OpenEmbedder = Embedder & { dispose(): Promise<void> };

/** Probes, identifies and loads an embedding GGUF (one with a pooling type, or any model's last state). */
export const openEmbedder = (opts: EmbedderOptions): Effect.Effect<OpenEmbedder, LlmError> =>
  Effect.gen(function* () {
    if (opts.probe !== false) yield* probeModel(opts.modelPath, "embedding");
    return yield* Effect.tryPromise({
      try: async () => {
        const identity = await identify(opts.modelPath);
        const llama = await llamaRuntime(opts);
        const model = await llama.loadModel({ modelPath: opts.modelPath, gpuLayers: opts.gpu === "auto" ? "auto" : 0 });
        const contextSize = opts.contextSize ?? 512;
        // The whole input is one batch (an encoder attends both ways), so the batch is the context.
        const context = await model.createEmbeddingContext({ contextSize, batchSize: contextSize, threads: opts.threads ?? 1 });
        return new LlamaEmbedder(identity, model, context, contextSize);
      },
      catch: (e) => new ModelLoadError({ path: opts.modelPath, reason: reasonOf(e) }),
    });
  });

export class EmbedderService extends Context.Service<EmbedderService, Embedder>()("sophont/llm/Embedder") {}

export const embedderLayer = (opts: EmbedderOptions): Layer.Layer<EmbedderService, LlmError> =>
  Layer.effect(EmbedderService, Effect.acquireRelease(openEmbedder(opts), (m) => Effect.promise(() => m.dispose())));
