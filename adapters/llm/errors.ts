import { Data } from "effect";

/** A GGUF failed the child-process probe (or our header parse): the parent process is untouched. */
export class ModelProbeError extends Data.TaggedError("ModelProbeError")<{
  readonly path: string;
  readonly reason: string;
  /** Last lines llama.cpp printed before it died, when it did. */
  readonly detail?: string;
}> {
  override get message() { return `model ${this.path} is unusable: ${this.reason}`; }
}

/** node-llama-cpp refused to load a model, context or adapter that passed the probe. */
export class ModelLoadError extends Data.TaggedError("ModelLoadError")<{ readonly path: string; readonly reason: string }> {
  override get message() { return `cannot load ${this.path}: ${this.reason}`; }
}

/** Scoring, embedding or generation failed at run time. */
export class InferenceError extends Data.TaggedError("InferenceError")<{ readonly operation: string; readonly reason: string }> {
  override get message() { return `${this.operation} failed: ${this.reason}`; }
}

/** A constrained generation ran out of tokens or time before its JSON was complete. */
export class GenerationIncompleteError extends Data.TaggedError("GenerationIncompleteError")<{
  readonly stopReason: "maxTokens" | "timeout" | "other";
  readonly partialText: string;
}> {
  override get message() { return `JSON generation incomplete (${this.stopReason}): ${JSON.stringify(this.partialText.slice(0, 80))}`; }
}

/** An adapter id that was never loaded, or an adapter file llama.cpp refused. */
export class AdapterError extends Data.TaggedError("AdapterError")<{ readonly adapter: string; readonly reason: string }> {
  override get message() { return `adapter ${this.adapter}: ${this.reason}`; }
}

export type LlmError = ModelProbeError | ModelLoadError | InferenceError | GenerationIncompleteError | AdapterError;

/** The message of anything thrown, for error fields. */
export const reasonOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));
