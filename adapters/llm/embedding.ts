import { Context, Effect, Layer } from "effect";
import type { LlamaEmbeddingContext, LlamaModel } from "node-llama-cpp";
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

  /** Texts longer than the context are cut to it (the head of a text carries its topic). */
  embed(texts: readonly string[]): Effect.Effect<Float32Array[], LlmError> {
    return Effect.tryPromise({
      try: () => this.lock.run(async () => {
        const out: Float32Array[] = [];
        for (const text of texts) {
          const tokens = this.model.tokenize(text).slice(0, this.contextSize - 1);
          out.push(tokens.length === 0 ? new Float32Array(this.dimension) : l2normalise((await this.context.getEmbeddingFor(tokens)).vector));
        }
        return out;
      }),
      catch: (e) => new InferenceError({ operation: "embed", reason: reasonOf(e) }),
    });
  }

  async dispose(): Promise<void> {
    await this.context.dispose();
    await this.model.dispose();
  }
}

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
        const context = await model.createEmbeddingContext({ contextSize, threads: opts.threads ?? 1 });
        return new LlamaEmbedder(identity, model, context, contextSize);
      },
      catch: (e) => new ModelLoadError({ path: opts.modelPath, reason: reasonOf(e) }),
    });
  });

export class EmbedderService extends Context.Service<EmbedderService, Embedder>()("sophont/llm/Embedder") {}

export const embedderLayer = (opts: EmbedderOptions): Layer.Layer<EmbedderService, LlmError> =>
  Layer.effect(EmbedderService, Effect.acquireRelease(openEmbedder(opts), (m) => Effect.promise(() => m.dispose())));
