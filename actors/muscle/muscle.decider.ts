// The Muscle's pure core: a job's state folded from its events, what the trainer's lines mean, which
// progress is worth an event, and how a failure is named. No I/O, no clock: time comes in as numbers.
import type { DomainEvent, EventData } from "../../events/catalogue.ts";
import type { Recorded } from "../../events/envelope.ts";

export type TrainingRequest = EventData<"TrainingRequested">;
export type FailureKind = EventData<"TrainingFailed">["kind"];

/** Where a job stands, from its own events only. */
export interface JobState {
  readonly request: TrainingRequest | null;
  readonly provisioned: EventData<"HostProvisioned"> | null;
  /** The rented instance behind the job, and when it was created (ms). */
  readonly instance: (EventData<"InstanceCreated"> & { readonly at: number }) | null;
  /** The machine without a GPU staging the base on the volume, while it is up. */
  readonly staging: (EventData<"InstanceCreated"> & { readonly at: number }) | null;
  /** The base on the provider's volume (staged now, or found there by the GPU). */
  readonly staged: EventData<"BaseStaged"> | null;
  /** The volume's policy was applied after the job (kept or deleted). */
  readonly volumeSettled: boolean;
  readonly uploaded: boolean;
  /** The trainer payload's directory on the host, when it came from the host's cache. */
  readonly payloadDir: string | null;
  readonly started: boolean;
  /** The last progress recorded: a re-attach resumes reading the log after it. */
  readonly progress: { readonly step: number; readonly phase: string; readonly logOffset: number; readonly at: number } | null;
  readonly trained: EventData<"AdapterTrained"> | null;
  readonly failed: EventData<"TrainingFailed"> | null;
  readonly released: boolean;
  readonly cancelRequested: boolean;
  /** Who asked for the cancel and why, as TrainingFailed will say it (null: no cancel). */
  readonly cancelReason: string | null;
}

/** What TrainingFailed says of a cancel: who asked, and why when they said. */
export const cancelReasonOf = (d: { by: string; reason?: string | undefined }): string => `cancelled by ${d.by}${d.reason ? `: ${d.reason}` : " on request"}`;

export const initialJobState = (): JobState => ({
  request: null, provisioned: null, instance: null, staging: null, staged: null, volumeSettled: false, uploaded: false, payloadDir: null, started: false, progress: null, trained: null, failed: null, released: false, cancelRequested: false, cancelReason: null,
});

/** Folds one event of the job's subject. */
export const evolveJob = (s: JobState, e: Recorded<DomainEvent>): JobState => {
  switch (e.type) {
    case "TrainingRequested": return { ...s, request: e.data };
    case "TrainingCancelRequested": return { ...s, cancelRequested: true, cancelReason: cancelReasonOf(e.data) };
    case "HostProvisioned": return { ...s, provisioned: e.data };
    case "InstanceCreated": return e.data.purpose === "staging" ? { ...s, staging: { ...e.data, at: e.storedAt } } : { ...s, instance: { ...e.data, at: e.storedAt } };
    case "InstanceTerminated": return e.data.purpose === "staging" ? { ...s, staging: null } : s;
    case "BaseStaged": return { ...s, staged: e.data };
    case "VolumeKept":
    case "VolumeDeleted": return { ...s, volumeSettled: true };
    case "DatasetUploaded": return { ...s, uploaded: true, payloadDir: e.data.transfer?.payloadDir ?? null };
    case "TrainingStarted": return { ...s, started: true };
    case "TrainingProgressed": return { ...s, progress: { step: e.data.step, phase: e.data.phase, logOffset: e.data.logOffset, at: e.storedAt } };
    case "AdapterTrained": return { ...s, trained: e.data };
    case "TrainingFailed": return { ...s, failed: e.data };
    case "HostReleased": return { ...s, released: true };
    default: return s;
  }
};

/** Whether nothing is left to do for the job on its host. */
export const jobOver = (s: JobState): boolean => s.released;

/** A line of the trainer's stdout (adapters/trainer/README.md, "Output lines"). */
export type TrainerLine = { readonly event: string; readonly [key: string]: unknown };

/** Parses whole lines; anything that is not a JSON object (a traceback on stderr) is kept as text. */
export const parseLines = (text: string): Array<{ line: string; parsed: TrainerLine | null; end: number }> => {
  const out: Array<{ line: string; parsed: TrainerLine | null; end: number }> = [];
  let at = 0;
  for (const line of text.split("\n").slice(0, -1)) {
    at += Buffer.byteLength(line, "utf8") + 1;
    let parsed: TrainerLine | null = null;
    try {
      const v = JSON.parse(line) as unknown;
      if (typeof v === "object" && v !== null && typeof (v as { event?: unknown }).event === "string") parsed = v as TrainerLine;
    } catch {
      parsed = null;
    }
    out.push({ line, parsed, end: at });
  }
  return out;
};

/** At most one progress event per `minIntervalMs`; the first and the last step of a phase are always recorded. */
export interface Throttle {
  readonly minIntervalMs: number;
}

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/**
 * The progress lines worth an event: the first, the last of each phase, and otherwise one per
 * interval. `now` is the time the chunk was read; `logBase` the log offset the chunk started at.
 */
export const progressToRecord = (
  jobId: string, lines: ReturnType<typeof parseLines>, logBase: number, last: JobState["progress"], now: number, throttle: Throttle,
): { events: EventData<"TrainingProgressed">[]; last: JobState["progress"] } => {
  const events: EventData<"TrainingProgressed">[] = [];
  let current = last;
  for (const { parsed, end } of lines) {
    if (parsed?.event !== "progress") continue;
    const step = num(parsed.step) ?? 0, of = num(parsed.of) ?? 0, phase = String(parsed.phase ?? "sft");
    if (current && current.phase === phase && current.step >= step) continue; // already recorded (re-read after a re-attach)
    const due = !current || step === of || step === 1 || now - current.at >= throttle.minIntervalMs;
    if (!due) continue;
    events.push({ jobId, phase, step, of, loss: num(parsed.loss), margin: num(parsed.margin), etaSeconds: num(parsed.eta_seconds), logOffset: logBase + end });
    current = { step, phase, logOffset: logBase + end, at: now };
  }
  return { events, last: current };
};

/** Names a thrown failure for TrainingFailed; adapters throw objects with a `_tag`. */
export const failureKindOf = (error: unknown): FailureKind => {
  const tag = typeof error === "object" && error !== null ? (error as { _tag?: unknown })._tag : undefined;
  switch (tag) {
    case "HostKeyUnknownError":
    case "HostKeyMismatchError": return "host-key";
    case "AuthenticationError": return "authentication";
    case "GpuExpectationError": return "gpu";
    case "ConnectionError": return "connection";
    case "TransferVerificationError": return "verification";
    case "PlanRefusedError": return "plan";
    case "CapacityError": return "capacity";
    case "CostCapError": return "cost";
    default: return "internal";
  }
};

/** Failures a retry cannot cure: the job fails at once instead of backing off. */
export const isFatal = (error: unknown): boolean => {
  const kind = failureKindOf(error);
  return kind === "host-key" || kind === "authentication" || kind === "gpu" || kind === "plan" || kind === "capacity" || kind === "cost" || (error as { _tag?: unknown })?._tag === "HostsFileError";
};

/** What `result.json`'s merged artifact says, as AdapterTrained's payload (less the hashes the worker checked). */
export const adapterTrainedOf = (jobId: string, result: TrainerLine, microSha256: string, bytes: number): EventData<"AdapterTrained"> => {
  const artifacts = (result.artifacts ?? []) as Array<Record<string, unknown>>;
  const merged = artifacts.find((a) => a.kind === "merged") ?? {};
  const losses = (e: unknown) => ({ sftLoss: num((e as { sft_loss?: unknown })?.sft_loss), anchorLoss: num((e as { anchor_loss?: unknown })?.anchor_loss), ...pairs(e) });
  const from = ((merged.merged_from ?? []) as string[]).filter((s) => s !== microSha256);
  const ties = (merged.ties ?? merged.params ?? {}) as { k?: number; lambda?: number };
  const candidates = candidatesOf(artifacts);
  const pairs = (e: unknown) => {
    const p = (e as { heldout_pairs?: Record<string, unknown> | null })?.heldout_pairs;
    if (!p) return {};
    const [n, c, r, m, a] = [num(p.pairs), num(p.chosen_logp), num(p.rejected_logp), num(p.margin), num(p.accuracy)];
    return n === null || c === null || r === null || m === null || a === null ? {} : { heldOutPairs: { pairs: n, chosenLogp: c, rejectedLogp: r, margin: m, accuracy: a } };
  };
  return {
    jobId,
    adapterSha256: String(merged.sha256 ?? ""),
    microSha256,
    bytes,
    rank: num(merged.rank) ?? 0,
    alpha: num(merged.alpha) ?? 0,
    merge: {
      method: methodOf(merged.method) ?? (from.length > 0 ? "ties" : "none"),
      mergedFrom: from,
      k: num(ties.k) ?? 0,
      lambda: num(ties.lambda) ?? 0,
      reconstructionError: num(merged.reconstruction_error) ?? 0,
      maxTensorReconstructionError: num(merged.max_tensor_reconstruction_error) ?? num(merged.reconstruction_error) ?? 0,
    },
    before: losses(result.before),
    after: losses(result.after),
    seconds: num(result.seconds) ?? 0,
    ...(candidates.length ? { candidates } : {}),
  };
};

type Method = EventData<"AdapterTrained">["merge"]["method"];
const METHODS: readonly Method[] = ["none", "ties", "single", "stack", "fold", "task-arithmetic", "dare"];
const methodOf = (m: unknown): Method | undefined => (METHODS as readonly unknown[]).includes(m) ? (m as Method) : undefined;

/** The trainer's candidate lines, as AdapterTrained lists them (one of an unknown method is left out). */
const candidatesOf = (artifacts: ReadonlyArray<Record<string, unknown>>) =>
  artifacts.flatMap((a) => {
    const method = methodOf(a.method);
    if (a.kind !== "candidate" || !method || typeof a.sha256 !== "string") return [];
    const params = Object.fromEntries(Object.entries((a.params ?? {}) as Record<string, unknown>).flatMap(([k, v]) => { const x = num(v); return x === null ? [] : [[k, x] as const]; }));
    return [{ method, params, sha256: a.sha256, rank: num(a.rank) ?? 0, reconstructionError: num(a.reconstruction_error) ?? 0, folded: a.folded === true }];
  });

/** The last `n` lines of a log, for TrainingFailed (the trainer never prints secrets; neither do we). */
export const lastLines = (log: string, n = 20): string[] => log.split("\n").filter((l) => l.trim() !== "").slice(-n).map((l) => l.slice(0, 500));
