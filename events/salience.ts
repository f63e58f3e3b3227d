import { Schema } from "effect";
import { defineEvent } from "./define.ts";

/** A question vector: L2-normalised, from the embedding model named by its sha256. */
const Vector = Schema.Array(Schema.Finite);

/** How a step that wants an instruction-following model was done: by the model, or the documented fallback. */
export const Method = Schema.Literals(["model", "fallback"]);

/** The thresholds of the salience policy, recorded with every decision so an audit can tell why. */
export const PolicyValues = Schema.Struct({
  version: Schema.String,
  /** The nearest centroid must be at least this similar (cosine) for the input to be on topic. */
  acceptSimilarity: Schema.Finite,
  /** Below this surprise the model already knows the text: nothing to learn. */
  minSurprise: Schema.Finite,
  /** Above this surprise the text is taken for noise. */
  incoherentSurprise: Schema.Finite,
  /** Incoherent when the mean surprisal per token reaches this fraction of a uniform guess (ln V). */
  uniformFraction: Schema.Finite,
  /**
   * salience-2 and later: judgement calibrated against real references. Absent in older policies,
   * which judge coherence by the uniform fraction and topic by acceptSimilarity alone.
   */
  calibrated: Schema.optional(Schema.Struct({
    /** Incoherent above the references' median bits per byte plus this many robust spreads (MAD x 1.4826)... */
    coherenceSpreads: Schema.Finite,
    /** ...and never closer to the median than this, in bits per byte (a tight set of references is no licence to reject prose). */
    coherenceFloor: Schema.Finite,
    /** Similarity to a centroid is the mean cosine of the top k of its prototypes. */
    topK: Schema.Finite,
    /** Weights of the two topic signals, each in robust spreads from the in-domain references. */
    weightSimilarity: Schema.Finite,
    weightDomain: Schema.Finite,
    /** On topic at or above this combined score (robust spreads; negative: below the references' median). */
    minTopic: Schema.Finite,
    /** With fewer accepted references than this, the seeded questions are the references (and acceptSimilarity the topic rule). */
    minReferences: Schema.Finite,
    /**
     * salience-3: Moore & Lewis against the Antechamber as well: the gain of the domain's model over a model
     * of the inputs turned away as off-topic in earlier nights, weighted so (0 or absent: not used).
     */
    weightAntechamber: Schema.optional(Schema.Finite),
    /** salience-3: the Antechamber's model is used once it holds this many texts. */
    minAntechamber: Schema.optional(Schema.Finite),
    /**
     * salience-3: an accepted input joins the references and the domain's model only when its topic reached
     * this (clearly inside: the ones at the edge do not move the yardstick, so it cannot ratchet outwards).
     */
    coreTopic: Schema.optional(Schema.Finite),
    /** salience-3: references and inputs are scored by the domain's model less their fold (by hash of the input id): cross-fitting. */
    folds: Schema.optional(Schema.Finite),
    /** salience-3: until there are minReferences references, a sample of up to this many of the night's own inputs is. */
    referenceInputs: Schema.optional(Schema.Finite),
  })),
});
export type PolicyValues = typeof PolicyValues.Type;

export const Models = Schema.Struct({
  /** sha256 of the scoring model's GGUF. */
  model: Schema.String,
  /** sha256 of the active LoRA adapter, or null for the base model. */
  adapter: Schema.NullOr(Schema.String),
  /** sha256 of the embedding model's GGUF. */
  embedder: Schema.String,
});

/** The frontier judge's part in a verdict: who spoke, model, request hash, tokens and cost; never the key. */
export const JudgeRecord = Schema.Struct({
  judge: Schema.Literals(["anthropic", "local"]),
  model: Schema.String,
  requestSha256: Schema.NullOr(Schema.String),
  inputTokens: Schema.Finite,
  outputTokens: Schema.Finite,
  attempts: Schema.Finite,
  costUsd: Schema.Finite,
  /** The local verdict's confidence (the margin of its score from the coherence threshold, 0..1). */
  confidence: Schema.Finite,
  /** Why the local verdict stands; null when the frontier judge spoke. */
  fallback: Schema.NullOr(Schema.String),
});
export type JudgeRecord = typeof JudgeRecord.Type;

/**
 * How an instruction model evaluated one input (issue 15). "one-pass": the text was evaluated once, its
 * perplexity conditioned on the shared chat-template prefix whose token hash is `prefixSha256`, and the
 * question and verdicts were generated from the same state as one JSON answer. "windowed-truncated": the
 * text was too long for one pass; its perplexity came from BOS-conditioned windows, the answer from its
 * head. (Absent: the four-call path, perplexity and each answer asked separately.) `fallback`
 * names why the answer was not used (timeout, maxTokens, schema: a broken or unparsed answer), and then
 * Salience's documented fallbacks decided the input; null: the answer was used.
 */
export const Evaluation = Schema.Struct({
  method: Schema.Literals(["one-pass", "windowed-truncated"]),
  fallback: Schema.NullOr(Schema.Literals(["timeout", "maxTokens", "schema"])),
  prefixSha256: Schema.NullOr(Schema.String),
  prefixTokens: Schema.Finite,
  /** Tokens this input put through the model: text + closing + answer, and the windows' for "windowed-truncated" (the shared prefix is the batch's, counted once there). */
  tokensEvaluated: Schema.Finite,
});
export type Evaluation = typeof Evaluation.Type;

export const PreoccupationSeeded = defineEvent({
  type: "PreoccupationSeeded",
  family: "preoccupation",
  description: "A question the domain asks, and its vector: the Preoccupation Centroid is their running mean.",
  schema: Schema.Struct({
    questionId: Schema.String,
    question: Schema.String,
    vector: Vector,
    embedder: Schema.String,
  }),
  entity: (d) => d.questionId,
});

/** InputScored as salience-1 wrote it: mean NLL per token only, one mean vector per centroid. */
const InputScoredV1 = Schema.Struct({
    inputId: Schema.String,
    nightId: Schema.String,
    perplexity: Schema.Finite,
    meanNll: Schema.Finite,
    tokenCount: Schema.Finite,
    /** (mean NLL - baseline mean) / baseline spread over recent nights. */
    surprise: Schema.Finite,
    baseline: Schema.Struct({ mean: Schema.Finite, std: Schema.Finite, samples: Schema.Finite }),
    coherence: Schema.Struct({ coherent: Schema.Boolean, method: Method, detail: Schema.String }),
    /** For outputs the model itself produced: whether it hallucinated (null for other inputs). */
    hallucination: Schema.NullOr(Schema.Struct({ hallucinated: Schema.Boolean, method: Method, detail: Schema.String })),
    question: Schema.Struct({ text: Schema.NullOr(Schema.String), method: Method, vector: Vector }),
    similarity: Schema.Struct({
      preoccupation: Schema.Finite,
      satellites: Schema.Array(Schema.Struct({ satelliteId: Schema.String, similarity: Schema.Finite })),
      nearest: Schema.String,
      nearestSimilarity: Schema.Finite,
    }),
    models: Models,
    policy: PolicyValues,
});

/** A signal measured against references: the references' median and robust spread, and where the value stands. */
export const Calibration = Schema.Struct({
  /** seeds: the seeded questions (left out one at a time); accepted: recent accepted inputs (salience-3: those clearly inside, scored again tonight, cross-fitted); night: a sample of the night's own inputs (salience-3's cold start); members: a satellite's cluster at its birth (its cohesion). */
  source: Schema.Literals(["seeds", "accepted", "night", "members", "none"]),
  references: Schema.Finite,
  median: Schema.Finite,
  spread: Schema.Finite,
  value: Schema.Finite,
});

export const InputScored = defineEvent({
  type: "InputScored",
  family: "input",
  description: "Salience's measurements of one input in a night: surprise, bits per byte under the general and the domain's model, coherence, the distilled question and its distances.",
  schema: Schema.Struct({
    inputId: Schema.String,
    nightId: Schema.String,
    perplexity: Schema.Finite,
    meanNll: Schema.Finite,
    tokenCount: Schema.Finite,
    /** (mean NLL - baseline mean) / baseline spread over recent nights. */
    surprise: Schema.Finite,
    baseline: Schema.Struct({ mean: Schema.Finite, std: Schema.Finite, samples: Schema.Finite }),
    coherence: Schema.Struct({ coherent: Schema.Boolean, method: Method, detail: Schema.String }),
    /** For outputs the model itself produced: whether it hallucinated (null for other inputs). */
    hallucination: Schema.NullOr(Schema.Struct({ hallucinated: Schema.Boolean, method: Method, detail: Schema.String })),
    question: Schema.Struct({ text: Schema.NullOr(Schema.String), method: Method, vector: Vector }),
    similarity: Schema.Struct({
      preoccupation: Schema.Finite,
      satellites: Schema.Array(Schema.Struct({ satelliteId: Schema.String, similarity: Schema.Finite })),
      nearest: Schema.String,
      nearestSimilarity: Schema.Finite,
    }),
    models: Models,
    policy: PolicyValues,
    /** Which judge gave the coherence verdict when a frontier judge is configured (absent: none is). */
    judge: Schema.optional(JudgeRecord),
    /** How the scoring model evaluated the text (absent: recorded before issue 15, or a model that follows no instructions). */
    evaluation: Schema.optional(Evaluation),
    /** UTF-8 bytes of the text, and the general model's bits per byte on it (null: recorded by salience-1). */
    bytes: Schema.NullOr(Schema.Finite),
    bitsPerByte: Schema.NullOr(Schema.Finite),
    /**
     * Moore & Lewis: the domain's byte 5-gram (fit on the seeds and accepted inputs up to the night)
     * on the text, and the gain = general bits per byte - domain bits per byte (higher: more the domain's).
     */
    domain: Schema.NullOr(Schema.Struct({
      bitsPerByte: Schema.Finite,
      gain: Schema.Finite,
      texts: Schema.Finite,
      bytes: Schema.Finite,
      /** salience-3: the fold whose references the domain's model left out to score this text (cross-fitting). */
      fold: Schema.optional(Schema.Finite),
      /** salience-3: the Antechamber's byte 5-gram on the text, and its gain = Antechamber bits per byte - domain bits per byte. */
      antechamber: Schema.optional(Schema.Struct({ bitsPerByte: Schema.Finite, gain: Schema.Finite, texts: Schema.Finite, bytes: Schema.Finite })),
    })),
    /** How coherence and topic stood against their references (null: an uncalibrated policy). */
    calibration: Schema.NullOr(Schema.Struct({
      coherence: Calibration,
      similarity: Calibration,
      domain: Calibration,
      /** salience-3: the gain over the Antechamber's model against the references' (absent: not used). */
      antechamber: Schema.optional(Calibration),
      /**
       * The nearest satellite's similarity against its cohesion, when the satellite has one (salience-3):
       * the nearest centroid is the one the question stands highest on, in robust spreads, and a satellite
       * nearest decides the topic by this alone (it has no domain model).
       */
      satellite: Schema.optional(Schema.Struct({ satelliteId: Schema.String, ...Calibration.fields })),
      /** weightSimilarity x z(similarity) + weightDomain x z(gain) (+ weightAntechamber x z(Antechamber gain)), over the weights used. */
      topic: Schema.Finite,
      onTopic: Schema.Boolean,
    })),
  }),
  entity: (d) => d.inputId,
  past: [{ version: 1, schema: InputScoredV1, upcast: (d: typeof InputScoredV1.Type) => ({ ...d, bytes: null, bitsPerByte: null, domain: null, calibration: null }) }],
});

const Decided = {
  inputId: Schema.String,
  nightId: Schema.String,
  /** Why, in words an audit reads. */
  reason: Schema.String,
  policy: PolicyValues,
  models: Models,
};

export const InputAccepted = defineEvent({
  type: "InputAccepted",
  family: "input",
  description: "The input is worth learning: it joins the SFT Ledger.",
  schema: Schema.Struct({ ...Decided, nearest: Schema.String, similarity: Schema.Finite, surprise: Schema.Finite, questionVector: Vector }),
  entity: (d) => d.inputId,
});

export const InputRejected = defineEvent({
  type: "InputRejected",
  family: "input",
  description: "The input is not learned. Off-topic questions go to the Antechamber with their vector; incoherent ones do not; an unmeasurable one (the models failed on it alone) has no vector.",
  schema: Schema.Struct({
    ...Decided,
    cause: Schema.Literals(["off-topic", "incoherent", "known", "unmeasurable"]),
    nearest: Schema.String,
    similarity: Schema.Finite,
    questionVector: Vector,
  }),
  entity: (d) => d.inputId,
});

export const ShadowRecorded = defineEvent({
  type: "ShadowRecorded",
  family: "input",
  description: "The model's own output failed (hallucinated or incoherent): a preference negative for DPO in the Shadow Ledger.",
  schema: Schema.Struct({
    ...Decided,
    /** The texts live in the content store: prompt, the rejected output, the correction when one is known. */
    promptSha256: Schema.String,
    rejectedSha256: Schema.String,
    correctedSha256: Schema.NullOr(Schema.String),
  }),
  entity: (d) => d.inputId,
});

export const AnchorAdded = defineEvent({
  type: "AnchorAdded",
  family: "anchor",
  description: "A text joins the Golden Anchor set, replayed in every training job against forgetting.",
  schema: Schema.Struct({
    anchorId: Schema.String,
    contentSha256: Schema.String,
    bytes: Schema.Finite,
    source: Schema.String,
  }),
  entity: (d) => d.anchorId,
});
