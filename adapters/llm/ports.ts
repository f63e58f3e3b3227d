import type { Effect } from "effect";
import type { LlmError } from "./errors.ts";

/** What a GGUF file is: content hash plus the metadata that matters to callers. */
export interface ModelIdentity {
  readonly path: string;
  /** sha256 of the file bytes, hex. */
  readonly sha256: string;
  readonly sizeBytes: number;
  readonly architecture: string;
  readonly name: string | undefined;
  readonly vocabularySize: number | undefined;
  readonly contextLength: number | undefined;
  readonly embeddingLength: number | undefined;
  /** llama.pooling_type as a word, when the file declares one. */
  readonly pooling: "none" | "mean" | "cls" | "last" | "rank" | undefined;
  /**
   * Whether the model can follow instructions (question distillation, coherence verdicts).
   * False for Sophont's tiny models; callers then use their documented fallback.
   */
  readonly instructionFollowing: boolean;
}

export interface PerplexityOptions {
  /** Tokens per window for texts longer than the context (default: the context size). */
  readonly window?: number;
  /** Tokens the window advances by (default: half the window), like llama.cpp's perplexity tool. */
  readonly stride?: number;
  /** Return the per-token surprisal (negative natural log-probability) too. */
  readonly surprisal?: boolean;
}

export interface PerplexityResult {
  /** exp(meanNll); 1 when no token was scored. */
  readonly perplexity: number;
  /** Mean negative log-likelihood per scored token, in nats; 0 when none was scored. */
  readonly meanNll: number;
  /** Number of tokens whose probability was scored. */
  readonly tokenCount: number;
  /** Per scored token: its id and -ln p(token | context). */
  readonly surprisal?: ReadonlyArray<{ readonly token: number; readonly nll: number }>;
}

export interface JsonGenerationOptions {
  readonly maxTokens: number;
  readonly timeoutMs: number;
  /** 0 (the default) is greedy and deterministic. */
  readonly temperature?: number;
  /** Used when temperature > 0; recorded in the result either way. */
  readonly seed?: number;
}

export interface JsonGeneration {
  readonly value: unknown;
  readonly text: string;
  readonly tokens: number;
  readonly seed: number;
  readonly temperature: number;
  readonly adapterId: string | null;
}

export interface LoadedAdapter {
  /** The adapter's sha256 (hex): its identity everywhere. */
  readonly id: string;
  readonly path: string;
  readonly scale: number;
}

/** The language-model capabilities the Soul's actors need. */
export interface LanguageModel {
  readonly identity: ModelIdentity;
  readonly contextSize: number;
  perplexity(texts: readonly string[], opts?: PerplexityOptions): Effect.Effect<PerplexityResult[], LlmError>;
  /** The model's own tokens for a text, BOS first when the model prepends one (as `perplexity` scores it). */
  tokenize(text: string): Effect.Effect<number[], LlmError>;
  generateJson(prompt: string, jsonSchema: object, opts: JsonGenerationOptions): Effect.Effect<JsonGeneration, LlmError>;
  /** Loads (or finds already loaded) a GGUF LoRA; does not activate it. */
  loadAdapter(path: string, scale?: number): Effect.Effect<LoadedAdapter, LlmError>;
  /** Activates a loaded adapter, or the base model with null, without reloading base weights. */
  useAdapter(id: string | null): Effect.Effect<void, LlmError>;
  readonly activeAdapter: string | null;
}

/** Sentence embeddings. */
export interface Embedder {
  readonly identity: ModelIdentity;
  readonly dimension: number;
  readonly pooling: "mean" | "cls" | "last" | "none";
  /** One L2-normalised vector per text. */
  embed(texts: readonly string[]): Effect.Effect<Float32Array[], LlmError>;
}
