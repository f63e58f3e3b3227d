import type { Cohesion } from "../../events/antechamber.ts";
import type { DomainEvent } from "../../events/catalogue.ts";
import type { Recorded } from "../../events/envelope.ts";
import type { PolicyValues } from "../../events/salience.ts";
import { centroids, PREOCCUPATION, type Centroids } from "../../projections/centroids.projection.ts";
import type { Decision } from "../decider.ts";
import type { Measurement, ModelIds } from "./ports.ts";
import { coherenceFallback, decideInput, fallbackConfidence, surpriseOf, type Baseline, type ModelOutput } from "./salience.policy.ts";
import { cosine } from "../../events/vectors.ts";
import { prototypeSimilarity, seedPrototypes } from "../../projections/centroids.projection.ts";
import { calibrate, satelliteCalibration, zOf, type References } from "./calibration.ts";
import { domainBitsPerByte, type DomainModel } from "./domain-model.ts";
import { calibratedVerdicts, crossFitted, MIN_SPREAD } from "./salience.policy.ts";

/** How many recent accepted inputs are the references, and how many of their texts fit the domain model. */
export const REFERENCE_INPUTS = 200;

/** How many earlier nights make the surprise baseline. */
export const BASELINE_NIGHTS = 7;

export interface InputRef {
  readonly inputId: string;
  readonly seq: number;
  readonly contentSha256: string;
  /** The last sequence on the input's subject: decisions expect it, so each input is decided once. */
  readonly subjectSeq: number;
  readonly output: ModelOutput | null;
}

interface NightStats {
  n: number;
  sum: number;
  sumSq: number;
}

export interface SalienceState {
  readonly inputs: Map<string, InputRef>;
  readonly decided: Set<string>;
  /** Inputs whose texts were forgotten: a night drops them instead of scoring them. */
  readonly forgotten: Set<string>;
  readonly nights: Map<string, { untilSeq: number; completed: boolean }>;
  /** Completed nights in order, with the mean-NLL statistics of their scored inputs. */
  readonly stats: Map<string, NightStats>;
  readonly completedOrder: string[];
  readonly centroids: Centroids;
  /** The seeded questions' texts: the domain model's first texts and the first references. */
  readonly seeds: string[];
  /** Scores of inputs not yet decided, by id: an acceptance to the preoccupation makes them references. */
  readonly scores: Map<string, Reference>;
  /** Recent inputs accepted to the preoccupation, oldest first, each as it was scored before it joined. */
  readonly accepted: Reference[];
  /** Recent inputs rejected as off-topic, oldest first: the Antechamber's texts (salience-3's competing model). */
  readonly rejected: Array<{ readonly inputId: string; readonly contentSha256: string; readonly nightId: string }>;
  /** The night each decided input was decided in. */
  readonly decidedIn: Map<string, string>;
}

/** A calibrated score of an accepted input: what later inputs are measured against. */
export interface Reference {
  readonly inputId: string;
  readonly contentSha256: string;
  readonly bitsPerByte: number;
  readonly similarity: number;
  readonly gain: number;
  /** The night it was scored in, its topic then (null: uncalibrated), its question vector and who scored it. */
  readonly nightId: string;
  readonly topic: number | null;
  readonly vector: ReadonlyArray<number>;
  readonly scoredBy: string;
}

/** Who measured a score: the model, its adapter and the embedder, as one key. */
export const scoredBy = (m: { readonly model: string; readonly adapter: string | null; readonly embedder: string }): string => `${m.model}/${m.adapter ?? "-"}/${m.embedder}`;

export const initialSalienceState = (): SalienceState => ({
  inputs: new Map(), decided: new Set(), forgotten: new Set(), nights: new Map(), stats: new Map(), completedOrder: [], centroids: centroids.initialState(), seeds: [], scores: new Map(), accepted: [], rejected: [], decidedIn: new Map(),
});

const outputOf = (metadata: Record<string, unknown> | undefined): ModelOutput | null =>
  typeof metadata?.promptSha256 === "string"
    ? { promptSha256: metadata.promptSha256, correctedSha256: typeof metadata.correctedSha256 === "string" ? metadata.correctedSha256 : null }
    : null;

const touch = (s: SalienceState, inputId: string, seq: number) => {
  const i = s.inputs.get(inputId);
  if (i) s.inputs.set(inputId, { ...i, subjectSeq: seq });
};

/** Folds the log into what a night needs. Maps owned by the fold, updated in place. */
export const evolveSalience = (s: SalienceState, e: Recorded<DomainEvent>): SalienceState => {
  if ((centroids.canHandle as ReadonlyArray<string>).includes(e.type)) centroids.evolve(s.centroids, e);
  switch (e.type) {
    case "InputReceived":
      if (!s.inputs.has(e.data.inputId)) s.inputs.set(e.data.inputId, { inputId: e.data.inputId, seq: e.seq, contentSha256: e.data.contentSha256, subjectSeq: e.seq, output: outputOf(e.data.source.metadata) });
      else touch(s, e.data.inputId, e.seq);
      return s;
    case "InputRepeated":
      touch(s, e.data.inputId, e.seq);
      return s;
    case "InputScored": {
      touch(s, e.data.inputId, e.seq);
      const d = e.data;
      if (d.bitsPerByte !== null && d.domain && d.similarity.nearest === PREOCCUPATION) {
        const contentSha256 = s.inputs.get(d.inputId)?.contentSha256 ?? "";
        s.scores.set(d.inputId, { inputId: d.inputId, contentSha256, bitsPerByte: d.bitsPerByte, similarity: d.similarity.preoccupation, gain: d.domain.gain, nightId: d.nightId, topic: d.calibration?.topic ?? null, vector: d.question.vector, scoredBy: scoredBy(d.models) });
      }
      const st = s.stats.get(e.data.nightId) ?? { n: 0, sum: 0, sumSq: 0 };
      st.n++;
      st.sum += e.data.meanNll;
      st.sumSq += e.data.meanNll ** 2;
      s.stats.set(e.data.nightId, st);
      return s;
    }
    case "PreoccupationSeeded":
      s.seeds.push(e.data.question);
      return s;
    case "InputAccepted": {
      const r = s.scores.get(e.data.inputId);
      if (r && e.data.nearest === PREOCCUPATION && !s.forgotten.has(e.data.inputId)) {
        s.accepted.push(r);
        if (s.accepted.length > REFERENCE_INPUTS) s.accepted.shift();
      }
      s.scores.delete(e.data.inputId);
      touch(s, e.data.inputId, e.seq);
      s.decided.add(e.data.inputId);
      s.decidedIn.set(e.data.inputId, e.data.nightId);
      return s;
    }
    case "InputRejected": {
      const contentSha256 = s.inputs.get(e.data.inputId)?.contentSha256;
      if (e.data.cause === "off-topic" && contentSha256 && !s.forgotten.has(e.data.inputId)) {
        s.rejected.push({ inputId: e.data.inputId, contentSha256, nightId: e.data.nightId });
        if (s.rejected.length > REFERENCE_INPUTS) s.rejected.shift();
      }
      s.scores.delete(e.data.inputId);
      touch(s, e.data.inputId, e.seq);
      s.decided.add(e.data.inputId);
      s.decidedIn.set(e.data.inputId, e.data.nightId);
      return s;
    }
    case "ShadowRecorded":
    case "InputDropped":
      touch(s, e.data.inputId, e.seq);
      s.decided.add(e.data.inputId);
      s.decidedIn.set(e.data.inputId, e.data.nightId);
      return s;
    case "InputForgotten": {
      touch(s, e.data.inputId, e.seq);
      const k = s.accepted.findIndex((r) => r.inputId === e.data.inputId);
      if (k >= 0) s.accepted.splice(k, 1);
      const j = s.rejected.findIndex((r) => r.inputId === e.data.inputId);
      if (j >= 0) s.rejected.splice(j, 1);
      s.forgotten.add(e.data.inputId);
      return s;
    }
    case "NightStarted":
      s.nights.set(e.data.nightId, { untilSeq: e.data.untilSeq, completed: false });
      return s;
    case "NightCompleted": {
      const n = s.nights.get(e.data.nightId);
      if (n) n.completed = true;
      if (!s.completedOrder.includes(e.data.nightId)) s.completedOrder.push(e.data.nightId);
      return s;
    }
    default:
      return s;
  }
};

/** The inputs of a night's window still waiting for a decision, oldest first. */
export const pendingInputs = (s: SalienceState, nightId: string): InputRef[] => {
  const night = s.nights.get(nightId);
  // A night cut off at its deadline leaves its undecided inputs to the next night's window.
  if (!night || night.completed) return [];
  return [...s.inputs.values()].filter((i) => i.seq <= night.untilSeq && !s.decided.has(i.inputId)).sort((a, b) => a.seq - b.seq);
};

/**
 * Every input of a night's window: those still pending and those already decided in this night (a resumed
 * night's sample of its own inputs is the one it began with).
 */
export const windowInputs = (s: SalienceState, nightId: string): InputRef[] => {
  const night = s.nights.get(nightId);
  if (!night) return [];
  return [...s.inputs.values()].filter((i) => i.seq <= night.untilSeq && (!s.decided.has(i.inputId) || s.decidedIn.get(i.inputId) === nightId)).sort((a, b) => a.seq - b.seq);
};

/** Mean and spread of mean NLL over the last BASELINE_NIGHTS completed nights before this one. */
export const baselineFor = (s: SalienceState, nightId: string): Baseline => {
  const earlier = s.completedOrder.filter((n) => n !== nightId).slice(-BASELINE_NIGHTS);
  let n = 0, sum = 0, sumSq = 0;
  for (const id of earlier) {
    const st = s.stats.get(id);
    if (st) (n += st.n), (sum += st.sum), (sumSq += st.sumSq);
  }
  const mean = n > 0 ? sum / n : 0;
  const variance = n > 1 ? Math.max(0, (sumSq - n * mean * mean) / (n - 1)) : 0;
  return { mean, std: Math.sqrt(variance), samples: n };
};

/** What a night measures against, frozen when the night is loaded. */
export interface NightFrame {
  readonly nightId: string;
  readonly baseline: Baseline;
  readonly centroids: ReadonlyArray<{ readonly id: string; readonly vector: ReadonlyArray<number>; readonly prototypes: ReadonlyArray<ReadonlyArray<number>>; readonly cohesion?: Cohesion }>;
  /** For a calibrated policy: the domain model of the night and the references of each signal. */
  readonly calibration: {
    readonly domain: DomainModel;
    readonly coherence: References;
    readonly similarity: References;
    readonly domainGain: References;
    /** salience-3: the references' gains over the Antechamber's model (absent: not used tonight). */
    readonly antechamberGain?: References;
  } | null;
  readonly policy: PolicyValues;
  readonly ids: ModelIds;
}

export const frameOf = (s: SalienceState, nightId: string, policy: PolicyValues, ids: ModelIds, calibration: NightFrame["calibration"] = null): NightFrame => ({
  nightId,
  baseline: baselineFor(s, nightId),
  calibration,
  // salience-3 measures similarity to the seeded questions alone: accepted prototypes drew every field near.
  centroids: Object.values(s.centroids).map((c) => ({ id: c.id, vector: [...c.vector], prototypes: (crossFitted(policy) && c.id === PREOCCUPATION ? seedPrototypes(c) : c.prototypes).map((p) => [...p]), ...(c.cohesion ? { cohesion: c.cohesion } : {}) })),
  policy,
  ids,
});

/** An input that cannot be judged: decided with the reason (guarded by the input's version, like a score). */
export const dropInput = (input: InputRef, nightId: string, cause: "forgotten" | "missing-content", detail: string): Decision => ({
  event: { type: "InputDropped", data: { inputId: input.inputId, nightId, cause, detail } },
  expectedSubjectSeq: input.subjectSeq,
});

/** salience-3: the text under the domain's model less the input's fold, and under the Antechamber's model. */
export interface CrossFitted {
  readonly bitsPerByte: number;
  readonly fold: number;
  readonly antechamber: { readonly bitsPerByte: number; readonly texts: number; readonly bytes: number } | null;
}

/** What one input's numbers say under the night's frame, before any verdict from a model or a judge. */
const assess = (m: Measurement, frame: NightFrame, text: string, fitted?: CrossFitted) => {
  const { policy: p } = frame;
  const surprise = surpriseOf(m.meanNll, frame.baseline);
  const k = p.calibrated?.topK ?? 1;
  const cal = frame.calibration;
  const cos = (v: ReadonlyArray<number>) => (v.length === m.questionVector.length ? cosine(m.questionVector, v) : 0);
  // salience-3 with every satellite's cohesion known: a satellite's similarity is to its centroid, the
  // scale its members were measured on, and the nearest centroid is the one the question stands highest
  // on in robust spreads (a satellite of texts is closer in raw cosine to every text than seeded questions are).
  const bySpreads = cal !== null && crossFitted(p) && frame.centroids.some((c) => c.id !== PREOCCUPATION) && frame.centroids.every((c) => c.id === PREOCCUPATION || c.cohesion !== undefined);
  const sims = frame.centroids.map((c) => {
    const similarity = bySpreads && c.cohesion ? cos(c.vector) : p.calibrated ? prototypeSimilarity(c, m.questionVector, k) : cos(c.vector);
    // Where the question stands on the centroid's own scale: its references', or a satellite's cohesion.
    const standing = !bySpreads ? null : c.cohesion ? satelliteCalibration(c.cohesion, similarity, MIN_SPREAD.similarity) : calibrate(similarity, cal!.similarity, MIN_SPREAD.similarity);
    return { id: c.id, similarity, standing };
  });
  const nearest = bySpreads
    ? sims.reduce((a, b) => (zOf(b.standing!) > zOf(a.standing!) ? b : a))
    : sims.reduce((a, b) => (b.similarity > a.similarity ? b : a), { id: PREOCCUPATION, similarity: -1, standing: null });
  const satellite = nearest.id !== PREOCCUPATION && nearest.standing ? { satelliteId: nearest.id, ...nearest.standing } : null;
  const bytes = Buffer.byteLength(text, "utf8");
  const bitsPerByte = bytes > 0 ? (m.meanNll * m.tokenCount) / Math.LN2 / bytes : 0;
  const domainBits = cal ? (fitted?.bitsPerByte ?? domainBitsPerByte(cal.domain, text)) : null;
  const ante = fitted?.antechamber && domainBits !== null ? { ...fitted.antechamber, gain: fitted.antechamber.bitsPerByte - domainBits } : null;
  const domain = cal && domainBits !== null
    ? { bitsPerByte: domainBits, gain: bitsPerByte - domainBits, texts: cal.domain.texts, bytes: cal.domain.bytes, ...(fitted ? { fold: fitted.fold } : {}), ...(ante ? { antechamber: ante } : {}) }
    : null;
  const preoccupation = sims.find((x) => x.id === PREOCCUPATION)?.similarity ?? 0;
  const calibration = cal && domain && p.calibrated
    ? (() => {
        const c = {
          coherence: calibrate(bitsPerByte, cal.coherence, MIN_SPREAD.coherence),
          similarity: calibrate(preoccupation, cal.similarity, MIN_SPREAD.similarity),
          domain: calibrate(domain.gain, cal.domainGain, MIN_SPREAD.domain),
          ...(ante && cal.antechamberGain ? { antechamber: calibrate(ante.gain, cal.antechamberGain, MIN_SPREAD.antechamber) } : {}),
          ...(satellite ? { satellite } : {}),
        };
        const v = calibratedVerdicts(c, nearest, p);
        return { ...c, topic: v.topic, onTopic: v.onTopic, coherence_: v.coherence, coherenceConfidence: v.coherenceConfidence };
      })()
    : null;
  const local = calibration
    ? { ...calibration.coherence_, confidence: calibration.coherenceConfidence }
    : { ...coherenceFallback(m.meanNll, surprise, frame.ids.vocabularySize, p), confidence: fallbackConfidence(m.meanNll, frame.ids.vocabularySize, p) };
  return { surprise, sims, nearest, bytes, bitsPerByte, domain, preoccupation, calibration, local };
};

/**
 * The local coherence verdict the decision would stand on, and how sure it is (0 at its bound, 1 far
 * from it): under a calibrated policy, the distance of the text's bits per byte from the references'
 * limit in units of the allowed margin; uncalibrated, the distance from `uniformFraction` of a uniform
 * guess. A frontier judge is asked where this is low (config `judge.when`).
 */
export const localCoherence = (m: Measurement, frame: NightFrame, text: string, fitted?: CrossFitted): { coherent: boolean; detail: string; confidence: number } => {
  const { local } = assess(m, frame, text, fitted);
  return { coherent: local.coherent, detail: local.detail, confidence: local.confidence };
};

/** One input's score and decision, as the two events Salience appends (guarded by the input's version). */
export const judge = (input: InputRef, m: Measurement, frame: NightFrame, text: string, fitted?: CrossFitted): Decision[] => {
  const { policy: p, ids } = frame;
  const { surprise, sims, nearest, bytes, bitsPerByte, domain, preoccupation, calibration, local } = assess(m, frame, text, fitted);
  const coherence = m.coherence ? { ...m.coherence, method: "model" as const } : { coherent: local.coherent, method: local.method, detail: local.detail };
  const hallucination = input.output
    ? m.hallucination
      ? { ...m.hallucination, method: "model" as const }
      : { hallucinated: !coherence.coherent, method: "fallback" as const, detail: `${m.evaluation?.fallback ? `the model's answer fell back (${m.evaluation.fallback})` : "no instruction-following judge"}: an incoherent output counts as hallucinated (${coherence.detail})` }
    : null;
  const scored = {
    inputId: input.inputId,
    nightId: frame.nightId,
    perplexity: m.perplexity,
    meanNll: m.meanNll,
    tokenCount: m.tokenCount,
    surprise,
    baseline: { mean: frame.baseline.mean, std: frame.baseline.std, samples: frame.baseline.samples },
    coherence,
    hallucination,
    question: { text: m.question, method: m.question === null ? ("fallback" as const) : ("model" as const), vector: [...m.questionVector] },
    similarity: {
      preoccupation,
      satellites: sims.filter((x) => x.id !== PREOCCUPATION).map((x) => ({ satelliteId: x.id, similarity: x.similarity })),
      nearest: nearest.id,
      nearestSimilarity: Math.max(0, nearest.similarity),
    },
    ...(m.judge ? { judge: m.judge } : {}),
    ...(m.evaluation ? { evaluation: m.evaluation } : {}),
    models: { model: ids.model, adapter: ids.adapter, embedder: ids.embedder },
    policy: p,
    bytes,
    bitsPerByte,
    domain,
    calibration: calibration && { coherence: calibration.coherence, similarity: calibration.similarity, domain: calibration.domain, ...(calibration.antechamber ? { antechamber: calibration.antechamber } : {}), ...(calibration.satellite ? { satellite: calibration.satellite } : {}), topic: calibration.topic, onTopic: calibration.onTopic },
  };
  return [
    { event: { type: "InputScored", data: scored }, expectedSubjectSeq: input.subjectSeq },
    { event: decideInput(scored, input.contentSha256, input.output) },
  ];
};

/**
 * The decision for an input the models could not measure, alone, while they measured another text:
 * rejected with the models' error as its reason, so the night goes on and nothing waits for it.
 */
export const unmeasurable = (input: InputRef, error: string, frame: NightFrame): Decision[] => [{
  event: {
    type: "InputRejected",
    data: {
      inputId: input.inputId,
      nightId: frame.nightId,
      cause: "unmeasurable",
      reason: `unmeasurable: the models failed on this input alone (${error})`,
      policy: frame.policy,
      models: { model: frame.ids.model, adapter: frame.ids.adapter, embedder: frame.ids.embedder },
      nearest: PREOCCUPATION,
      similarity: 0,
      questionVector: [],
    },
  },
  expectedSubjectSeq: input.subjectSeq,
}];
