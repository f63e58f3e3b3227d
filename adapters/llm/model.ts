import { Context, Effect, Layer } from "effect";
import type { LlamaContext, LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";
import { AdapterError, type LlmError, ModelLoadError, InferenceError, reasonOf } from "./errors.ts";
import { generateJsonOn } from "./generate.ts";
import { identify } from "./identity.ts";
import { AdapterRegistry } from "./lora-registry.ts";
import { scoreTokens, summarise } from "./perplexity.ts";
import type { LanguageModel, ModelIdentity, PerplexityOptions, PerplexityResult } from "./ports.ts";
import { probeModel } from "./probe.ts";
import { llamaRuntime, Mutex, type RuntimeOptions } from "./runtime.ts";

export interface LanguageModelOptions extends RuntimeOptions {
  readonly modelPath: string;
  /** Tokens per sequence (default 2048, capped by what the model was trained on only by llama.cpp's warning). */
  readonly contextSize?: number;
  /** Parallel sequences for scoring several texts at once (default 2). */
  readonly sequences?: number;
  /** CPU threads; 1 for the tiny models on a shared 2-core machine (default 1). */
  readonly threads?: number;
  /** Probe the file in a child process first (default true). */
  readonly probe?: boolean;
}

/** The node-llama-cpp implementation of the LanguageModel port; promise-based inside, Effect at its surface. */
class LlamaLanguageModel implements LanguageModel {
  private readonly lock = new Mutex();
  private adapterId: string | null = null;
  private readonly adapters: AdapterRegistry;
  constructor(
    readonly identity: ModelIdentity,
    private readonly model: LlamaModel,
    private context: LlamaContext,
    private readonly opts: Required<Pick<LanguageModelOptions, "contextSize" | "sequences" | "threads">> & RuntimeOptions,
  ) {
    this.adapters = new AdapterRegistry(identity.architecture);
  }

  get contextSize(): number { return this.context.contextSize; }
  get activeAdapter(): string | null { return this.adapterId; }

  private sequences(): LlamaContextSequence[] {
    return Array.from({ length: this.opts.sequences }, () => this.context.getSequence());
  }

  perplexity(texts: readonly string[], opts: PerplexityOptions = {}): Effect.Effect<PerplexityResult[], LlmError> {
    return wrap("perplexity", () => this.lock.run(async () => {
      const bos: Token | null = this.model.tokens.shouldPrependBosToken ? this.model.tokens.bos : null;
      const room = this.context.contextSize - (bos === null ? 0 : 1);
      const size = Math.min(opts.window ?? room, room);
      const stride = opts.stride ?? Math.max(1, Math.floor(size / 2));
      const seqs = this.sequences();
      const results: PerplexityResult[] = new Array(texts.length);
      let next = 0;
      // Each sequence pulls the next text; node-llama-cpp batches the sequences' tokens together.
      await Promise.all(seqs.map(async (seq) => {
        try {
          for (let i = next++; i < texts.length; i = next++) {
            const tokens = this.model.tokenize(texts[i]!);
            const nlls = await scoreTokens(seq, tokens, bos, size, stride);
            results[i] = summarise(tokens.slice(tokens.length - nlls.length), nlls, opts.surprisal === true);
          }
        } finally {
          seq.dispose();
        }
      }));
      return results;
    }));
  }

  tokenize(text: string): Effect.Effect<number[], LlmError> {
    return wrap("tokenize", async () => {
      const tokens = this.model.tokenize(text).map(Number);
      return this.model.tokens.shouldPrependBosToken && this.model.tokens.bos !== null ? [Number(this.model.tokens.bos), ...tokens] : tokens;
    });
  }

  generateJson(prompt: string, jsonSchema: object, opts: Parameters<LanguageModel["generateJson"]>[2]) {
    return wrap("generateJson", () => this.lock.run(async () => {
      const seq = this.context.getSequence();
      try {
        return await generateJsonOn(await llamaRuntime(this.opts), seq, prompt, jsonSchema, opts, this.adapterId);
      } finally {
        seq.dispose();
      }
    }));
  }

  loadAdapter(path: string, scale = 1) {
    return wrap("loadAdapter", () => this.adapters.register(path, scale));
  }

  useAdapter(id: string | null) {
    return wrap("useAdapter", () => this.lock.run(async () => {
      if (id === this.adapterId) return;
      const adapter = id === null ? null : this.adapters.get(id);
      // A new context carries the adapter; the base weights stay loaded and shared by both.
      const next = await this.createContext(adapter === null ? undefined : { adapters: [{ filePath: adapter.path, scale: adapter.scale }] })
        .catch((e: unknown) => { throw new AdapterError({ adapter: id ?? "base", reason: reasonOf(e) }); });
      const old = this.context;
      this.context = next;
      this.adapterId = id;
      await old.dispose();
    }));
  }

  createContext(lora?: { adapters: Array<{ filePath: string; scale: number }> }): Promise<LlamaContext> {
    return this.model.createContext({
      contextSize: this.opts.contextSize, sequences: this.opts.sequences, threads: this.opts.threads,
      ...(lora === undefined ? {} : { lora }),
    });
  }

  dispose(): Promise<void> {
    return this.lock.run(async () => { await this.context.dispose(); await this.model.dispose(); });
  }
}

/** Runs a promise-returning operation, keeping typed errors and typing anything else as an InferenceError. */
const wrap = <A>(operation: string, run: () => Promise<A>): Effect.Effect<A, LlmError> =>
  Effect.tryPromise({
    try: run,
    catch: (e) => (isLlmError(e) ? e : new InferenceError({ operation, reason: reasonOf(e) })),
  });

const isLlmError = (e: unknown): e is LlmError =>
  typeof e === "object" && e !== null && "_tag" in e &&
  ["ModelProbeError", "ModelLoadError", "InferenceError", "GenerationIncompleteError", "AdapterError"].includes(String((e as { _tag: unknown })._tag));

/** A loaded language model; `dispose` frees the context and the weights. */
export type OpenLanguageModel = LanguageModel & { dispose(): Promise<void> };

/**
 * Probes (in a child process), identifies (sha256 + metadata) and loads a GGUF for scoring and
 * constrained generation. Prefer `languageModelLayer`, which releases it with its scope.
 */
export const openLanguageModel = (opts: LanguageModelOptions): Effect.Effect<OpenLanguageModel, LlmError> =>
  Effect.gen(function* () {
    if (opts.probe !== false) yield* probeModel(opts.modelPath, "generation");
    return yield* wrap("openLanguageModel", async () => {
      const identity = await identify(opts.modelPath);
      const llama = await llamaRuntime(opts);
      const model = await llama.loadModel({ modelPath: opts.modelPath, gpuLayers: opts.gpu === "auto" ? "auto" : 0 })
        .catch((e: unknown) => { throw new ModelLoadError({ path: opts.modelPath, reason: reasonOf(e) }); });
      const settings = { contextSize: opts.contextSize ?? 2048, sequences: opts.sequences ?? 2, threads: opts.threads ?? 1 };
      const context = await model.createContext(settings)
        .catch(async (e: unknown) => { await model.dispose(); throw new ModelLoadError({ path: opts.modelPath, reason: reasonOf(e) }); });
      return new LlamaLanguageModel(identity, model, context, { ...settings, gpu: opts.gpu ?? false });
    });
  });

/** The Soul's language model as an Effect service. */
export class LanguageModelService extends Context.Service<LanguageModelService, LanguageModel>()("sophont/llm/LanguageModel") {}

/** Acquires the model for the layer's scope and disposes it when the scope closes. */
export const languageModelLayer = (opts: LanguageModelOptions): Layer.Layer<LanguageModelService, LlmError> =>
  Layer.effect(LanguageModelService, Effect.acquireRelease(openLanguageModel(opts), (m) => Effect.promise(() => m.dispose())));
