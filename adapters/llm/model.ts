import { Context, Effect, Layer } from "effect";
import type { Llama, LlamaContext, LlamaModel, Token } from "node-llama-cpp";
import { AdapterError, type LlmError, ModelLoadError, InferenceError, reasonOf } from "./errors.ts";
import { generateJsonOn } from "./generate.ts";
import { identify } from "./identity.ts";
import { AdapterRegistry } from "./lora-registry.ts";
import { NativeScorer, type ScorerInfo } from "./native/scorer.ts";
import { answerInOnePass } from "./one-pass.ts";
import { planScoring, scoreTextsNative, scoreTextsPublic } from "./perplexity.ts";
import type { AnswerRequest, LanguageModel, ModelIdentity, OnePassBatch, OnePassOptions, PerplexityOptions, PerplexityResult } from "./ports.ts";
import { probeModel } from "./probe.ts";
import { llamaRuntime, Mutex, type RuntimeOptions } from "./runtime.ts";

export interface LanguageModelOptions extends RuntimeOptions {
  readonly modelPath: string;
  /** Tokens per sequence (default 2048, capped by what the model was trained on only by llama.cpp's warning). */
  readonly contextSize?: number;
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
    private readonly opts: Required<Pick<LanguageModelOptions, "contextSize" | "threads">> & RuntimeOptions,
    private readonly native: NativeScorer | null,
    /** Which path scores perplexity: "native" (scorer.cc) or node-llama-cpp's "public" one, with the reason. */
    readonly scorer: ScorerInfo,
  ) {
    this.adapters = new AdapterRegistry(identity.architecture);
    this.onePass = native !== null && identity.instructionFollowing ? (requests, o) => this.answer(native, requests, o) : null;
  }

  readonly onePass: LanguageModel["onePass"];

  /** Tokens the native scorer has put through the model (every path); null without it. */
  get evaluatedTokens(): number | null { return this.native?.evaluatedTokens ?? null; }

  /**
   * Tokens node-llama-cpp has decoded for `generateJson` (the prompt, BOS included, and every answer
   * token fed back), read from each sequence's tokenMeter: what the four-call path costs beyond its
   * perplexity pass.
   */
  get completionTokens(): number { return this.completed; }
  private completed = 0;

  private answer(native: NativeScorer, requests: readonly AnswerRequest[], opts: OnePassOptions): Effect.Effect<OnePassBatch, LlmError> {
    return wrap("onePass", () => this.lock.run(async () => answerInOnePass({
      llama: await llamaRuntime(this.opts), model: this.model, native, contextSize: native.contextSize,
      windowed: (texts) => scoreTextsNative(texts, (t) => this.model.tokenize(t), native, this.plan({}), false),
    }, requests, opts)));
  }

  private plan(opts: PerplexityOptions) {
    return planScoring(this.context.contextSize, this.model.tokens.shouldPrependBosToken ? this.model.tokens.bos : null, opts);
  }

  get contextSize(): number { return this.context.contextSize; }
  get activeAdapter(): string | null { return this.adapterId; }

  perplexity(texts: readonly string[], opts: PerplexityOptions = {}): Effect.Effect<PerplexityResult[], LlmError> {
    return wrap("perplexity", () => this.lock.run(async () => {
      const bos: Token | null = this.model.tokens.shouldPrependBosToken ? this.model.tokens.bos : null;
      const plan = planScoring(this.context.contextSize, bos, opts);
      const tokenize = (text: string) => this.model.tokenize(text);
      return this.native === null
        ? scoreTextsPublic(texts, tokenize, this.context.getSequence(), plan, opts.surprisal === true)
        : scoreTextsNative(texts, tokenize, this.native, plan, opts.surprisal === true);
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
        this.completed += seq.tokenMeter.usedInputTokens + seq.tokenMeter.usedOutputTokens;
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
      // The native scorer carries the same adapter and scale, so both paths score the same model.
      await this.native?.setAdapters(adapter === null ? [] : [{ key: adapter.id, path: adapter.path, scale: adapter.scale }])
        .catch(async (e: unknown) => { await next.dispose(); throw new AdapterError({ adapter: id ?? "base", reason: reasonOf(e) }); });
      const old = this.context;
      this.context = next;
      this.adapterId = id;
      await old.dispose();
    }));
  }

  createContext(lora?: { adapters: Array<{ filePath: string; scale: number }> }): Promise<LlamaContext> {
    return newContext(this.model, this.opts, lora);
  }

  dispose(): Promise<void> {
    return this.lock.run(async () => { await this.native?.dispose(); await this.context.dispose(); await this.model.dispose(); });
  }
}

/**
 * One sequence: texts are scored one after another (node-llama-cpp 3.21.1 misreads probabilities
 * when sequences share a batch, see perplexity.ts) and operations hold the model's lock anyway.
 */
const newContext = (model: LlamaModel, opts: { contextSize: number; threads: number }, lora?: { adapters: Array<{ filePath: string; scale: number }> }) =>
  model.createContext({ contextSize: opts.contextSize, sequences: 1, threads: opts.threads, ...(lora === undefined ? {} : { lora }) });

/** Runs a promise-returning operation, keeping typed errors and typing anything else as an InferenceError. */
const wrap = <A>(operation: string, run: () => Promise<A>): Effect.Effect<A, LlmError> =>
  Effect.tryPromise({
    try: run,
    catch: (e) => (isLlmError(e) ? e : new InferenceError({ operation, reason: reasonOf(e) })),
  });

const isLlmError = (e: unknown): e is LlmError =>
  typeof e === "object" && e !== null && "_tag" in e &&
  ["ModelProbeError", "ModelLoadError", "InferenceError", "GenerationIncompleteError", "AdapterError"].includes(String((e as { _tag: unknown })._tag));

/** A loaded language model; `dispose` frees the contexts and the weights. */
export type OpenLanguageModel = LanguageModel & { dispose(): Promise<void>; readonly scorer: ScorerInfo; readonly evaluatedTokens: number | null; readonly completionTokens: number };

let fallbackReported = false;

/** Opens the native scorer beside node-llama-cpp's context, or says (once per process) why not. */
const openScorer = async (llama: Llama, model: LlamaModel, context: LlamaContext, opts: LanguageModelOptions, threads: number) => {
  const native = await NativeScorer.open(llama, {
    modelPath: opts.modelPath, gpuLayers: model.gpuLayers, contextSize: context.contextSize,
    batchSize: context.batchSize, threads, flashAttention: context.flashAttention,
  });
  if (native instanceof NativeScorer) return { native, info: { kind: "native", libllama: native.libllama } as const };
  if (!fallbackReported) console.warn(`sophont: perplexity uses node-llama-cpp's public path, slow on large vocabularies (${native.reason})`);
  fallbackReported = true;
  return { native: null, info: { kind: "public", reason: native.reason } as const };
};

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
      const settings = { contextSize: opts.contextSize ?? 2048, threads: opts.threads ?? 1 };
      const context = await newContext(model, settings)
        .catch(async (e: unknown) => { await model.dispose(); throw new ModelLoadError({ path: opts.modelPath, reason: reasonOf(e) }); });
      const { native, info } = await openScorer(llama, model, context, opts, settings.threads);
      return new LlamaLanguageModel(identity, model, context, { ...settings, gpu: opts.gpu ?? false }, native, info);
    });
  });

/** The Soul's language model as an Effect service. */
export class LanguageModelService extends Context.Service<LanguageModelService, LanguageModel>()("sophont/llm/LanguageModel") {}

/** Acquires the model for the layer's scope and disposes it when the scope closes. */
export const languageModelLayer = (opts: LanguageModelOptions): Layer.Layer<LanguageModelService, LlmError> =>
  Layer.effect(LanguageModelService, Effect.acquireRelease(openLanguageModel(opts), (m) => Effect.promise(() => m.dispose())));
