import { Schema } from "effect";
import { defineEvent } from "./define.ts";

// One training job is one entity: every event of a job lands on `sophont.evt.training.<jobId>`, so
// the job's history reads in order and a step decided twice is dropped by the server's dedup.
const job = { jobId: Schema.String };
const byJob = (d: { jobId: string }) => d.jobId;

/** What the trainer is asked to do (the trainer's recipe.json, minus paths the Muscle fills in). */
export const Recipe = Schema.Struct({
  rank: Schema.Finite,
  alpha: Schema.Finite,
  lr: Schema.Finite,
  sftSteps: Schema.Finite,
  dpoSteps: Schema.Finite,
  batch: Schema.Finite,
  /** Share of each SFT batch drawn from the Golden Anchor set. */
  anchorRatio: Schema.Finite,
  /** Share of each SFT batch drawn from the shipped general-English replay set (absent: none), beside the anchor's share. */
  generalReplayRatio: Schema.optional(Schema.Finite),
  seed: Schema.Finite,
  targetModules: Schema.Array(Schema.String),
  /** TIES: keep the top k percent of each task vector, scale the merge by lambda. */
  ties: Schema.Struct({ k: Schema.Finite, lambda: Schema.Finite }),
  /** Longest training row in tokens (default: the model's context length, at most 2048); the memory plan sizes activations by it. */
  seqLen: Schema.optional(Schema.Finite),
  /** `tiny`: the trainer's own forward from the GGUF (default); `hf`: transformers + peft on an HF model folder on the host. */
  backend: Schema.optional(Schema.Literals(["tiny", "hf"])),
  /** The HF model folder on the host, for the `hf` backend. */
  hfModel: Schema.optional(Schema.String),
  /** Passes over the job's data per phase (the SFT rows beside the replayed anchor; the pairs and negatives); when set, the steps come from it, not from sftSteps/dpoSteps. */
  epochs: Schema.optional(Schema.Finite),
  /** Cap on each phase's steps when they come from `epochs`. */
  maxSteps: Schema.optional(Schema.Finite),
  /** How the new micro-adapter is combined with the serving one: the candidates the evaluation chooses from. */
  candidates: Schema.optional(Schema.Struct({
    methods: Schema.optional(Schema.Array(Schema.Literals(["stack", "task-arithmetic", "ties", "dare"]))),
    /** The stack's rank budget: past it, the stack is folded (SVD) into one adapter of this rank. */
    maxRank: Schema.optional(Schema.Finite),
    /** Weights of the new task vector tried by task arithmetic. */
    taskLambdas: Schema.optional(Schema.Array(Schema.Finite)),
    dareDensity: Schema.optional(Schema.Finite),
    maxCandidates: Schema.optional(Schema.Finite),
  })),
});
export type Recipe = typeof Recipe.Type;

const TextRef = Schema.Struct({ id: Schema.String, seq: Schema.Finite, sha256: Schema.String });
const ShadowRef = Schema.Struct({ id: Schema.String, seq: Schema.Finite, promptSha256: Schema.String, rejectedSha256: Schema.String, correctedSha256: Schema.String });

/** The ledgers as they were when the job was requested: entries by sequence and content hash. */
export const LedgerSnapshot = Schema.Struct({
  /** The log position the snapshot was taken at (`ledger export --at` shows the same ledgers). */
  atSeq: Schema.Finite,
  /** SFT Ledger entries trained on. */
  sft: Schema.Array(TextRef),
  /** SFT Ledger entries kept out of training: the evaluation's gain is measured on them. */
  heldOut: Schema.Array(TextRef),
  /** Golden Anchor entries replayed in training (the replay part of the split). */
  anchor: Schema.Array(TextRef),
  /** Golden Anchor entries never uploaded: forgetting is measured on them (absent in jobs before the split). */
  anchorEval: Schema.optional(Schema.Array(TextRef)),
  /** The recorded rule that split the anchor into replay and evaluation parts. */
  anchorSplit: Schema.optional(Schema.String),
  /** Shadow Ledger entries with a known correction (DPO pairs). */
  shadow: Schema.Array(ShadowRef),
  /** Pairs kept out of training: the preference margin is measured on them (absent in older jobs). */
  shadowHeldOut: Schema.optional(Schema.Array(ShadowRef)),
  /** Shadow entries without a correction: trained as unpaired negatives (absent in older jobs). */
  negatives: Schema.optional(Schema.Array(Schema.Struct({ id: Schema.String, seq: Schema.Finite, promptSha256: Schema.String, rejectedSha256: Schema.String }))),
});
export type LedgerSnapshot = typeof LedgerSnapshot.Type;

/** What the Soul's training rule saw when it decided: new ledger rows, the thresholds, the budget. */
export const RuleNumbers = Schema.Struct({
  /** SFT Ledger entries no promoted adapter has seen, and the threshold. */
  newSft: Schema.Finite,
  minNewSft: Schema.Finite,
  /** Preference pairs (corrected Shadow entries) no promoted adapter has seen, and the threshold. */
  newPairs: Schema.Finite,
  minNewPairs: Schema.Finite,
  /** Jobs requested today (UTC day of the decision), and the budget. */
  jobsToday: Schema.Finite,
  maxJobsPerDay: Schema.Finite,
  /** Jobs requested and not yet over (no verdict, no failure). */
  running: Schema.Finite,
  /** Milliseconds left before the night's deadline (null: no deadline configured). */
  msToDeadline: Schema.NullOr(Schema.Finite),
});
export type RuleNumbers = typeof RuleNumbers.Type;

export const TrainingRequested = defineEvent({
  type: "TrainingRequested",
  family: "training",
  description: "A training job: the ledger snapshot it learns from, the recipe, the host, the adapters it merges with, its deadline.",
  schema: Schema.Struct({
    ...job,
    /** A host of the hosts file, or null for the local provider (a process on this machine). */
    host: Schema.NullOr(Schema.String),
    baseModelSha256: Schema.String,
    recipe: Recipe,
    ledger: LedgerSnapshot,
    /** sha256s of earlier micro-adapters (content store) TIES-merged with the new one. */
    mergeWith: Schema.Array(Schema.String),
    /** The adapter serving when it was asked (content store): the new micro-adapter trains on top of it and the candidates combine both. */
    servingSha256: Schema.optional(Schema.NullOr(Schema.String)),
    deadlineMs: Schema.Finite,
    requestedBy: Schema.String,
    /** Why the Soul asked for it (absent when a person or a script did): the rule that fired, with its numbers. */
    rule: Schema.optional(Schema.Struct({ name: Schema.String, nightId: Schema.String, numbers: RuleNumbers })),
  }),
  entity: byJob,
});

export const TrainingDeferred = defineEvent({
  type: "TrainingDeferred",
  family: "training",
  description: "The Soul's training rule would request a job but cannot now: a job is running, the day's budget is spent, or the night's deadline has passed.",
  schema: Schema.Struct({
    nightId: Schema.String,
    rule: Schema.String,
    reason: Schema.Literals(["job-running", "daily-budget", "past-deadline"]),
    detail: Schema.String,
    numbers: RuleNumbers,
  }),
  entity: (d) => `deferred-${d.nightId}`,
});

export const TrainingCancelRequested = defineEvent({
  type: "TrainingCancelRequested",
  family: "training",
  description: "Someone asked to stop a job: the Muscle kills its process group on the host.",
  schema: Schema.Struct({
    ...job,
    by: Schema.String,
    /** Why (absent: a person asked, giving none): e.g. the night's deadline passed. */
    reason: Schema.optional(Schema.String),
  }),
  entity: byJob,
});

export const HostProvisioned = defineEvent({
  type: "HostProvisioned",
  family: "training",
  description: "The job's host answered with its pinned key: provider, lease, work directory and GPUs found.",
  schema: Schema.Struct({
    ...job,
    host: Schema.String,
    provider: Schema.String,
    leaseId: Schema.String,
    workDir: Schema.String,
    gpus: Schema.Array(Schema.Struct({ name: Schema.String, memoryMiB: Schema.Finite })),
  }),
  entity: byJob,
});

const FileReceipt = Schema.Struct({ name: Schema.String, sha256: Schema.String, bytes: Schema.Finite });

/** A file the job took from the host's cache (or put there): how it got there and what travelled. */
const CachedReceipt = Schema.Struct({
  name: Schema.String,
  sha256: Schema.String,
  bytes: Schema.Finite,
  /** Where it lies on the host. */
  path: Schema.String,
  sentBytes: Schema.Finite,
  source: Schema.Literals(["uploaded", "resumed", "cached", "host"]),
  seconds: Schema.Finite,
  /** Why a base the hosts file names was not used, when it was not. */
  note: Schema.optional(Schema.String),
});

/** What the upload cost: bytes that travelled against the bytes the job needs, and the time it took. */
const UploadTransfer = Schema.Struct({
  sentBytes: Schema.Finite,
  totalBytes: Schema.Finite,
  seconds: Schema.Finite,
  cached: Schema.Array(CachedReceipt),
  /** The directory put on the trainer's PYTHONPATH. */
  payloadDir: Schema.String,
});

export const DatasetUploaded = defineEvent({
  type: "DatasetUploaded",
  family: "training",
  description: "The trainer payload, the base model, the datasets and the recipe are on the host, each verified by sha256; what was reused from the host's cache and the bytes sent.",
  schema: Schema.Struct({
    ...job,
    files: Schema.Array(FileReceipt),
    rows: Schema.Struct({ sft: Schema.Finite, anchor: Schema.Finite, dpo: Schema.Finite, negatives: Schema.optional(Schema.Finite), dpoEval: Schema.optional(Schema.Finite) }),
    payloadFiles: Schema.Finite,
    /** Where the host keeps a cache: what was reused, what was sent (absent: everything was sent to the job directory). */
    transfer: Schema.optional(UploadTransfer),
    /** The general-English replay in general.jsonl: the shipped set's sha256, the rows tokenized from it, their share of each SFT batch (absent: none replayed). */
    generalReplay: Schema.optional(Schema.Struct({ sha256: Schema.String, rows: Schema.Finite, ratio: Schema.Finite })),
  }),
  entity: byJob,
});

export const TrainingStarted = defineEvent({
  type: "TrainingStarted",
  family: "training",
  description: "The trainer runs detached on the host (its own process group, a pid file); later starts only re-attach.",
  schema: Schema.Struct({ ...job, pid: Schema.Finite }),
  entity: byJob,
});

const TrainingProgressedV1 = Schema.Struct({
  ...job,
  phase: Schema.String,
  step: Schema.Finite,
  of: Schema.Finite,
  loss: Schema.NullOr(Schema.Finite),
  margin: Schema.NullOr(Schema.Finite),
  logOffset: Schema.Finite,
});

export const TrainingProgressed = defineEvent({
  type: "TrainingProgressed",
  family: "training",
  description: "Throttled progress of the trainer: phase, step of steps, loss, preference margin, the trainer's ETA for the phase, and the log offset after the line.",
  schema: Schema.Struct({
    ...TrainingProgressedV1.fields,
    /** Seconds the trainer expects the phase still to take (its pace since the phase's first step); null: not known yet. */
    etaSeconds: Schema.NullOr(Schema.Finite),
  }),
  entity: byJob,
  past: [
    {
      version: 1,
      schema: TrainingProgressedV1,
      // v1 trainers reported no ETA: unknown, not zero.
      upcast: (d: typeof TrainingProgressedV1.Type) => ({ ...d, etaSeconds: null }),
    },
  ],
});

export const TrainingFailed = defineEvent({
  type: "TrainingFailed",
  family: "training",
  description: "The job ended without an adapter: the stage, why (host key, connection, trainer, deadline, cancel), the last log lines.",
  schema: Schema.Struct({
    ...job,
    stage: Schema.String,
    kind: Schema.Literals(["host-key", "authentication", "gpu", "connection", "verification", "trainer", "deadline", "cancelled", "internal", "plan", "capacity", "cost"]),
    error: Schema.String,
    exitCode: Schema.NullOr(Schema.Finite),
    lastLines: Schema.Array(Schema.String),
  }),
  entity: byJob,
});

/** Held-out preference pairs under a model: mean log-probability of the chosen and of the rejected outputs (nats, summed per response), margin, share preferring chosen. */
const PairScores = Schema.Struct({ pairs: Schema.Finite, chosenLogp: Schema.Finite, rejectedLogp: Schema.Finite, margin: Schema.Finite, accuracy: Schema.Finite });
const EvalLosses = Schema.Struct({ sftLoss: Schema.NullOr(Schema.Finite), anchorLoss: Schema.NullOr(Schema.Finite), heldOutPairs: Schema.optional(Schema.NullOr(PairScores)) });

const MergeMethod = Schema.Literals(["none", "ties", "single", "stack", "fold", "task-arithmetic", "dare"]);

/** One way of combining the serving adapter with the new micro-adapter, as the trainer wrote it. */
const CandidateAdapter = Schema.Struct({
  method: MergeMethod,
  /** Its settings: lambda (task arithmetic, TIES), k (TIES), density and seed (DARE), foldedFrom (the rank a fold replaced). */
  params: Schema.Record(Schema.String, Schema.Finite),
  sha256: Schema.String,
  rank: Schema.Finite,
  /** Relative error of the file against the combination it stands for (0: exact). */
  reconstructionError: Schema.Finite,
  folded: Schema.Boolean,
});

export const AdapterTrained = defineEvent({
  type: "AdapterTrained",
  family: "training",
  description: "The artifacts came back verified and are in the content store: the adapter to serve, its micro-adapter, the merge.",
  schema: Schema.Struct({
    ...job,
    adapterSha256: Schema.String,
    microSha256: Schema.String,
    bytes: Schema.Finite,
    rank: Schema.Finite,
    alpha: Schema.Finite,
    merge: Schema.Struct({
      method: MergeMethod,
      mergedFrom: Schema.Array(Schema.String),
      k: Schema.Finite,
      lambda: Schema.Finite,
      reconstructionError: Schema.Finite,
      maxTensorReconstructionError: Schema.Finite,
    }),
    before: EvalLosses,
    after: EvalLosses,
    seconds: Schema.Finite,
    /** Every candidate to serve, in the content store (absent in older jobs: adapterSha256 is the one). */
    candidates: Schema.optional(Schema.Array(CandidateAdapter)),
  }),
  entity: byJob,
});

/** Perplexity of one set of texts before (the serving adapter) and after (the candidate). */
const Compared = Schema.Struct({ texts: Schema.Finite, tokens: Schema.Finite, before: Schema.Finite, after: Schema.Finite });

export const EvaluationBounds = Schema.Struct({
  /** The held-out perplexity must fall by at least this fraction (0: must not get worse). */
  minGain: Schema.Finite,
  /** The anchor perplexity may rise by at most this fraction. */
  maxForgetting: Schema.Finite,
  /** The general probe set's perplexity may rise by at most this fraction (absent before the probe set). */
  maxProbeRise: Schema.optional(Schema.Finite),
});
export type EvaluationBounds = typeof EvaluationBounds.Type;

export const AdapterEvaluated = defineEvent({
  type: "AdapterEvaluated",
  family: "training",
  description: "The Soul measured the candidate against the serving adapter: gain on held-out accepted inputs, forgetting on the Golden Anchor.",
  schema: Schema.Struct({
    ...job,
    adapterSha256: Schema.String,
    /** The adapter serving when it was measured (null: the base model). */
    baselineSha256: Schema.NullOr(Schema.String),
    trained: Compared,
    heldOut: Compared,
    /** Forgetting is measured on the anchor's evaluation part (never trained on). */
    anchor: Compared,
    /** The shipped general-English probe set, with the share of its tokens the model does not know. */
    probe: Schema.optional(Schema.Struct({
      texts: Schema.Finite, tokens: Schema.Finite, before: Schema.Finite, after: Schema.Finite, rise: Schema.Finite, unknownShare: Schema.NullOr(Schema.Finite),
      /** The base model's probe perplexity: when present, `rise` is after / base - 1 (the bound holds over the base, not over what serves). */
      base: Schema.optional(Schema.Finite),
    })),
    /** 1 - after/before on the held-out set. */
    gain: Schema.Finite,
    /** after/before - 1 on the anchor set. */
    forgetting: Schema.Finite,
    bounds: EvaluationBounds,
    withinBounds: Schema.Boolean,
    /** Every candidate's numbers (absent in older jobs); the top-level numbers are the chosen one's. */
    candidates: Schema.optional(Schema.Array(Schema.Struct({
      method: MergeMethod,
      params: Schema.Record(Schema.String, Schema.Finite),
      sha256: Schema.String,
      rank: Schema.Finite,
      heldOut: Compared,
      anchor: Compared,
      probeAfter: Schema.NullOr(Schema.Finite),
      gain: Schema.Finite,
      forgetting: Schema.Finite,
      rise: Schema.Finite,
      withinBounds: Schema.Boolean,
    }))),
    /** The candidate chosen: the best held-out gain among those within bounds (or, none being, the best one, rolled back). */
    chosen: Schema.optional(Schema.Struct({ method: MergeMethod, sha256: Schema.String, reason: Schema.String })),
  }),
  entity: byJob,
});

export const AdapterPromoted = defineEvent({
  type: "AdapterPromoted",
  family: "training",
  description: "The candidate was within bounds: it serves from now on.",
  schema: Schema.Struct({ ...job, adapterSha256: Schema.String, previousSha256: Schema.NullOr(Schema.String) }),
  entity: byJob,
});

export const AdapterRolledBack = defineEvent({
  type: "AdapterRolledBack",
  family: "training",
  description: "The candidate was outside the bounds: the previous adapter keeps serving.",
  schema: Schema.Struct({ ...job, adapterSha256: Schema.String, servingSha256: Schema.NullOr(Schema.String), reason: Schema.String }),
  entity: byJob,
});

export const HostReleased = defineEvent({
  type: "HostReleased",
  family: "training",
  description: "The job is over on the host: its directory cleaned up (or kept after a failure) and the lease released.",
  schema: Schema.Struct({ ...job, host: Schema.String, leaseId: Schema.String, cleaned: Schema.Boolean }),
  entity: byJob,
});

/** Every training event, in the order a job writes them, for the catalogue. */
export const trainingDefinitions = [
  TrainingRequested, TrainingDeferred, TrainingCancelRequested, HostProvisioned, DatasetUploaded, TrainingStarted, TrainingProgressed,
  TrainingFailed, AdapterTrained, AdapterEvaluated, AdapterPromoted, AdapterRolledBack, HostReleased,
] as const;
