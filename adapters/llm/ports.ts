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

/** One text to evaluate once and answer about, in the model's chat template. */
export interface AnswerRequest {
  readonly text: string;
  /** Goes into the user turn after the text (e.g. the prompt a model output answered); "" for none. */
  readonly afterText: string;
  /** The answer's JSON schema; bound every string with maxLength (random weights never close one). */
  readonly schema: object;
}

export interface OnePassOptions {
  /** The instruction, as the chat template's system turn: the shared prefix of every request. */
  readonly system: string;
  readonly maxTokens: number;
  readonly timeoutMs: number;
  /** A boolean key whose value's probability (under the grammar) is the answer's confidence. */
  readonly confidenceKey?: string;
}

export interface AnsweredText {
  /** Conditioned on the stated prefix (method "one-pass"), or on BOS alone through the windows ("windowed-truncated"). */
  readonly perplexity: PerplexityResult;
  /** The parsed answer, or null when it did not end (stop) or did not parse. */
  readonly value: unknown;
  readonly answerText: string;
  readonly stop: "eog" | "maxTokens" | "timeout" | "grammar" | "unparsed";
  /** "windowed-truncated": the text was too long for one pass; perplexity came from the windows, the answer from its head. */
  readonly method: "one-pass" | "windowed-truncated";
  /**
   * Tokens this request put through the model: text + closing + answer tokens fed back (the prefix is
   * the batch's); for "windowed-truncated", the windows' tokens too (the head is evaluated a second time).
   */
  readonly evaluated: number;
  readonly textTokens: number;
  readonly closingTokens: number;
  readonly answerTokens: number;
  /** The probability of the confidence key's value among what the grammar allowed; null: none. */
  readonly confidence: number | null;
}

export interface OnePassBatch {
  /** sha256 of the prefix's token ids (int32 little endian) and their count: what every text's perplexity is conditioned on. */
  readonly prefixSha256: string;
  readonly prefixTokens: number;
  /** Prefix tokens decoded by this call: 0 when the scorer still held it from the previous call. */
  readonly prefixEvaluated: number;
  readonly items: readonly AnsweredText[];
}

/** The language-model capabilities the Soul's actors need. */
export interface LanguageModel {
  readonly identity: ModelIdentity;
  readonly contextSize: number;
  perplexity(texts: readonly string[], opts?: PerplexityOptions): Effect.Effect<PerplexityResult[], LlmError>;
  /** The model's own tokens for a text, BOS first when the model prepends one (as `perplexity` scores it). */
  tokenize(text: string): Effect.Effect<number[], LlmError>;
  generateJson(prompt: string, jsonSchema: object, opts: JsonGenerationOptions): Effect.Effect<JsonGeneration, LlmError>;
  /**
   * One evaluation per text: perplexity and a JSON answer from the same state, in the model's chat
   * template. Null when the model follows no instructions or the native scorer is unavailable.
   */
  readonly onePass: ((requests: readonly AnswerRequest[], opts: OnePassOptions) => Effect.Effect<OnePassBatch, LlmError>) | null;
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
