import type { DomainEvent } from "../../events/catalogue.ts";
import type { PolicyValues } from "../../events/salience.ts";
import { PREOCCUPATION } from "../../projections/centroids.projection.ts";
import { zOf } from "./calibration.ts";

/** Running statistics of mean NLL over recent nights: the yardstick of surprise. */
export interface Baseline {
  readonly mean: number;
  readonly std: number;
  readonly samples: number;
}

/** Surprise needs a yardstick: with fewer samples than this there is none yet and surprise is 0. */
export const MIN_BASELINE_SAMPLES = 10;

/** salience-1: topic by cosine to the centroid, coherence by a fraction of a uniform guess. For old decisions, tests on the tiny models and the bootstrap. */
export const uncalibratedPolicy: PolicyValues = { version: "salience-1", acceptSimilarity: 0.35, minSurprise: -3, incoherentSurprise: 4, uniformFraction: 0.85 };

/**
 * salience-3, the default. salience-2 (calibrated against accepted inputs as they were scored, and against the
 * seeds until there were 8) let the domain swallow every field on real text; salience-3 keeps its signals and
 * makes the yardstick safe, with a third signal:
 * - References are the accepted inputs clearly inside (topic >= coreTopic), scored again each night by the
 *   domain's model less their fold (cross-fitting: a reference is never scored by a model that holds it, and
 *   neither is an input), so a model grown since they were accepted cannot make every new text look better;
 *   edge cases never join, so the yardstick cannot ratchet outwards night after night.
 * - Until there are minReferences of them, a sample of the night's own inputs is the yardstick (the seeded
 *   questions are questions, not texts like the inputs: their bits per byte say little about an input's).
 * - Moore & Lewis against the Antechamber: a text the model of what was turned away predicts better than the
 *   domain's model does is drawn to a forming field, not to the domain (weightAntechamber).
 * - Similarity is to the seeded questions only (accepted prototypes made every field look near).
 * Measured on Debian's package descriptions: README, "Judgement: the default policy".
 */
export const salience3Policy: PolicyValues = {
  version: "salience-3",
  acceptSimilarity: 0.35,
  minSurprise: -3,
  incoherentSurprise: 4,
  uniformFraction: 0.85,
  calibrated: { coherenceSpreads: 4, coherenceFloor: 0.5, topK: 3, weightSimilarity: 1, weightDomain: 1, minTopic: -2, minReferences: 12, weightAntechamber: 2, minAntechamber: 4, coreTopic: -1, folds: 5, referenceInputs: 48 },
};

/** What a home judges with unless its config.json says otherwise. */
export const defaultPolicy: PolicyValues = salience3Policy;

/** Whether a policy is salience-3 or later (cross-fitted references, the Antechamber's model, a cold start on the night). */
export const crossFitted = (p: PolicyValues): boolean => p.calibrated?.folds !== undefined && p.calibrated.folds >= 2;

/** The floors of the robust spreads: a similarity is noise below 0.01, a bit-per-byte gain below 0.02. */
export const MIN_SPREAD = { coherence: 0.05, similarity: 0.01, domain: 0.02, antechamber: 0.02 } as const;

type Calibrations = NonNullable<Scored["calibration"]>;

/**
 * The calibrated verdicts from the measured numbers and a policy: coherent when the bits per byte
 * stay within the references' median plus the allowed spreads (and the floor); on topic, for the
 * preoccupation with accepted references, when the weighted robust scores reach minTopic; with only
 * the seeds as references, or for a satellite, when the similarity reaches acceptSimilarity; for a satellite
 * whose cohesion is known (salience-3), when its similarity stands within minTopic robust spreads of its members'.
 */
export const calibratedVerdicts = (
  c: Pick<Calibrations, "coherence" | "similarity" | "domain" | "antechamber" | "satellite">,
  nearest: { readonly id: string; readonly similarity: number },
  p: PolicyValues,
): { coherence: { coherent: boolean; method: "fallback"; detail: string }; coherenceConfidence: number; topic: number; onTopic: boolean } => {
  const q = p.calibrated!;
  const margin = Math.max(q.coherenceFloor, q.coherenceSpreads * c.coherence.spread);
  const limit = c.coherence.median + margin;
  const coherent = c.coherence.references === 0 || c.coherence.value <= limit;
  const detail = `${c.coherence.value.toFixed(3)} bits/byte vs ${c.coherence.references} ${c.coherence.source} references' median ${c.coherence.median.toFixed(3)}; incoherent above ${limit.toFixed(3)} (median + max(${q.coherenceFloor}, ${q.coherenceSpreads} x spread ${c.coherence.spread.toFixed(3)}))`;
  const wd = c.domain.references > 0 ? q.weightDomain : 0;
  const ws = q.weightSimilarity;
  const wa = c.antechamber && c.antechamber.references > 0 ? (q.weightAntechamber ?? 0) : 0;
  const topic = ws + wd + wa > 0 ? (ws * zOf(c.similarity) + wd * zOf(c.domain) + (wa > 0 ? wa * zOf(c.antechamber!) : 0)) / (ws + wd + wa) : 0;
  const calibratedTopic = nearest.id === PREOCCUPATION && (c.similarity.source === "accepted" || c.similarity.source === "night");
  // With no references the verdict is a default, not a measurement: as unsure as it gets.
  const coherenceConfidence = c.coherence.references === 0 ? 0 : Math.min(1, Math.abs(c.coherence.value - limit) / margin);
  const coherence = { coherent, method: "fallback" as const, detail };
  // A satellite nearest, with its cohesion: the topic is where the question stands among its members.
  if (c.satellite && c.satellite.satelliteId === nearest.id) {
    const z = zOf(c.satellite);
    return { coherence, coherenceConfidence, topic: z, onTopic: z >= q.minTopic };
  }
  return { coherence, coherenceConfidence, topic, onTopic: calibratedTopic ? topic >= q.minTopic : nearest.similarity >= p.acceptSimilarity };
};

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

/**
 * How sure the uncalibrated fallback is: the margin of the text's share of a uniform guess from
 * `uniformFraction`, relative to it, clipped to 0..1 (0 at the bound, 1 far from it).
 */
export const fallbackConfidence = (meanNll: number, vocabularySize: number, p: PolicyValues): number =>
  Math.min(1, Math.abs(meanNll / Math.log(Math.max(2, vocabularySize)) - p.uniformFraction) / p.uniformFraction);

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
  if (s.calibration && !s.calibration.onTopic) {
    const c = s.calibration;
    const ante = c.antechamber && c.antechamber.references > 0 ? `, gain over the Antechamber ${c.antechamber.value.toFixed(3)} vs median ${c.antechamber.median.toFixed(3)}` : "";
    const why = (c.similarity.source === "accepted" || c.similarity.source === "night") && s.similarity.nearest === PREOCCUPATION
      ? `topic ${c.topic.toFixed(2)} < ${p.calibrated?.minTopic} robust spreads from ${c.similarity.references} ${c.similarity.source === "night" ? "of the night's own inputs" : "references"} (similarity ${c.similarity.value.toFixed(3)} vs median ${c.similarity.median.toFixed(3)}, domain gain ${c.domain.value.toFixed(3)} vs median ${c.domain.median.toFixed(3)} bits/byte${ante})`
      : `nearest centroid ${s.similarity.nearest} at similarity ${s.similarity.nearestSimilarity.toFixed(3)} < ${p.acceptSimilarity} (${c.similarity.source} references only)`;
    return { type: "InputRejected", data: { ...base, ...where, cause: "off-topic", reason: `off-topic: ${why}` } };
  }
  if (!s.calibration && s.similarity.nearestSimilarity < p.acceptSimilarity) {
    return { type: "InputRejected", data: { ...base, ...where, cause: "off-topic", reason: `nearest centroid ${s.similarity.nearest} at similarity ${s.similarity.nearestSimilarity.toFixed(3)} < ${p.acceptSimilarity}` } };
  }
  if (s.surprise < p.minSurprise) {
    return { type: "InputRejected", data: { ...base, ...where, cause: "known", reason: `surprise ${s.surprise.toFixed(2)} < ${p.minSurprise}: the model already knows it` } };
  }
  return {
    type: "InputAccepted",
    data: { ...base, ...where, surprise: s.surprise, reason: `on topic (${s.calibration ? `topic ${s.calibration.topic.toFixed(2)}, ` : ""}${s.similarity.nearest} at ${s.similarity.nearestSimilarity.toFixed(3)}), coherent, surprise ${s.surprise.toFixed(2)} >= ${p.minSurprise}` },
  };
};
