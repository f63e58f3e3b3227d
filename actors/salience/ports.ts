/**
 * What Salience needs from the world, as interfaces; adapters/llm implements the model side and
 * adapters/nats the content store. No implementation here.
 */
export type { ContentStore } from "../ports.ts";
import type { Evaluation, JudgeRecord } from "../../events/salience.ts";

/** Who judges: the scoring model, its active adapter and the embedding model, by content hash. */
export interface ModelIds {
  readonly model: string;
  readonly adapter: string | null;
  readonly embedder: string;
  readonly vocabularySize: number;
  /** False for models that cannot follow instructions: question distillation and coherence use the fallbacks. */
  readonly instructionFollowing: boolean;
}

export interface Measurement {
  readonly perplexity: number;
  readonly meanNll: number;
  readonly tokenCount: number;
  /** The distilled question, or null when the fallback (the text's own embedding) stands for it. */
  readonly question: string | null;
  readonly questionVector: ReadonlyArray<number>;
  /** An instruction-following model's coherence verdict; null means: use the fallback. */
  readonly coherence: { readonly coherent: boolean; readonly detail: string } | null;
  /** For the model's own outputs: a hallucination verdict from the model; null: fallback or not an output. */
  readonly hallucination: { readonly hallucinated: boolean; readonly detail: string } | null;
  /** How an instruction model evaluated the text (InputScored.evaluation); absent for models that follow no instructions. */
  readonly evaluation?: Evaluation;
  /** Set when a frontier judge was consulted on this input (see events/salience.ts JudgeRecord). */
  readonly judge?: JudgeRecord;
}

/** The capabilities Salience uses, batched: several inputs are scored at once where the model allows. */
export interface SalienceModel {
  ids(): ModelIds;
  /**
   * `reference`: measured only as a yardstick for the night's judgement (salience-3's references), never
   * decided on: no frontier judge is consulted for it.
   */
  measure(items: ReadonlyArray<{ readonly text: string; readonly prompt: string | null; readonly inputId?: string; readonly nightId?: string; readonly reference?: boolean }>): Promise<Measurement[]>;
  /** Embeds questions the domain asks (preoccupation seeding). */
  embed(texts: ReadonlyArray<string>): Promise<ReadonlyArray<ReadonlyArray<number>>>;
}

/**
 * A second opinion on coherence (the frontier judge), asked only where the local verdict is unsure:
 * `confidence` is the local verdict's, 0 at its bound and 1 far from it (salience.decider `localCoherence`).
 * Either a verdict with its reason, or only the record of why the local verdict stands (a fallback).
 */
export interface CoherenceJudge {
  asks(confidence: number): boolean;
  verdict(nightId: string, inputId: string | null, text: string, confidence: number): Promise<{ readonly coherent: boolean; readonly reason: string; readonly record: JudgeRecord } | { readonly record: JudgeRecord }>;
}
