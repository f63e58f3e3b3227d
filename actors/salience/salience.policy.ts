import type { DomainEvent } from "../../events/catalogue.ts";
import type { PolicyValues } from "../../events/salience.ts";

/** Running statistics of mean NLL over recent nights: the yardstick of surprise. */
export interface Baseline {
  readonly mean: number;
  readonly std: number;
  readonly samples: number;
}

/** Surprise needs a yardstick: with fewer samples than this there is none yet and surprise is 0. */
export const MIN_BASELINE_SAMPLES = 10;

export const defaultPolicy: PolicyValues = { version: "salience-1", acceptSimilarity: 0.35, minSurprise: -3, incoherentSurprise: 4, uniformFraction: 0.85 };

/** (x - mean) / std, scale-free across models; 0 without a baseline. */
export const surpriseOf = (meanNll: number, b: Baseline): number =>
  b.samples < MIN_BASELINE_SAMPLES || b.std <= 1e-9 ? 0 : (meanNll - b.mean) / b.std;

/**
 * The documented fallback for coherence when the model cannot follow instructions: a text is
 * incoherent when the model finds it nearly as unpredictable as a uniform guess over its vocabulary,
 * or when it is far more surprising than the baseline.
 */
export const coherenceFallback = (meanNll: number, surprise: number, vocabularySize: number, p: PolicyValues) => {
  const uniform = Math.log(Math.max(2, vocabularySize));
  const ratio = meanNll / uniform;
  const coherent = ratio < p.uniformFraction && surprise <= p.incoherentSurprise;
  return {
    coherent,
    method: "fallback" as const,
    detail: `mean NLL ${meanNll.toFixed(3)} = ${(ratio * 100).toFixed(1)}% of uniform (ln ${vocabularySize}); surprise ${surprise.toFixed(2)}; incoherent at >= ${(p.uniformFraction * 100).toFixed(0)}% or surprise > ${p.incoherentSurprise}`,
  };
};

/** What Salience measured about one input: the facts a decision is made from. */
export type Scored = Extract<DomainEvent, { type: "InputScored" }>["data"];

/** The model's own output, with the prompt that produced it and the correction if a person gave one. */
export interface ModelOutput {
  readonly promptSha256: string;
  readonly correctedSha256: string | null;
}

/**
 * The decision for one scored input: accept (SFT Ledger), shadow (the model's failed output, for DPO),
 * or reject with its cause. Pure; the event records the values it used.
 */
export const decideInput = (s: Scored, contentSha256: string, output: ModelOutput | null): DomainEvent => {
  const p = s.policy;
  const base = { inputId: s.inputId, nightId: s.nightId, policy: p, models: s.models };
  const failedOutput = output && (s.hallucination?.hallucinated || !s.coherence.coherent || output.correctedSha256 !== null);
  if (output && failedOutput) {
    const why = s.hallucination?.hallucinated ? `hallucinated (${s.hallucination.detail})` : !s.coherence.coherent ? `incoherent (${s.coherence.detail})` : "a person corrected it";
    return { type: "ShadowRecorded", data: { ...base, reason: `the model's own output failed: ${why}`, promptSha256: output.promptSha256, rejectedSha256: contentSha256, correctedSha256: output.correctedSha256 } };
  }
  const where = { nearest: s.similarity.nearest, similarity: s.similarity.nearestSimilarity, questionVector: s.question.vector };
  if (!s.coherence.coherent) return { type: "InputRejected", data: { ...base, ...where, cause: "incoherent", reason: `incoherent: ${s.coherence.detail}` } };
  if (s.similarity.nearestSimilarity < p.acceptSimilarity) {
    return { type: "InputRejected", data: { ...base, ...where, cause: "off-topic", reason: `nearest centroid ${s.similarity.nearest} at similarity ${s.similarity.nearestSimilarity.toFixed(3)} < ${p.acceptSimilarity}` } };
  }
  if (s.surprise < p.minSurprise) {
    return { type: "InputRejected", data: { ...base, ...where, cause: "known", reason: `surprise ${s.surprise.toFixed(2)} < ${p.minSurprise}: the model already knows it` } };
  }
  return {
    type: "InputAccepted",
    data: { ...base, ...where, surprise: s.surprise, reason: `on topic (${s.similarity.nearest} at ${s.similarity.nearestSimilarity.toFixed(3)} >= ${p.acceptSimilarity}), coherent, surprise ${s.surprise.toFixed(2)} >= ${p.minSurprise}` },
  };
};
