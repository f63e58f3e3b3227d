import type { EventData } from "../events/catalogue.ts";
import type { Projection } from "./projection.ts";

/** One training job and what came of it: the model lineage, job by job. */
export interface LineageEntry {
  readonly jobId: string;
  readonly requestedSeq: number;
  readonly requestedAt: string;
  readonly host: string | null;
  readonly recipe: EventData<"TrainingRequested">["recipe"];
  /** The ledger entries it learned from, by id and sequence. */
  readonly ledger: { readonly atSeq: number; readonly sft: number; readonly heldOut: number; readonly anchor: number; readonly shadow: number; readonly sftIds: readonly string[]; readonly heldOutIds: readonly string[]; readonly shadowIds: readonly string[] };
  /** Who asked for it (cli, soul, demo ...). */
  readonly requestedBy: string;
  /** How long it may take from its request. */
  readonly deadlineMs: number;
  readonly mergeWith: readonly string[];
  status: "requested" | "running" | "trained" | "failed" | "promoted" | "rolled-back";
  provisioned?: { readonly host: string; readonly provider: string };
  /** The trainer's last reported step, loss and ETA for the phase (null: not known yet), and when it was recorded. */
  lastProgress?: { readonly phase: string; readonly step: number; readonly of: number; readonly loss: number | null; readonly etaSeconds: number | null; readonly at: string };
  adapter?: { readonly sha256: string; readonly microSha256: string; readonly merge: EventData<"AdapterTrained">["merge"] };
  evaluation?: Pick<EventData<"AdapterEvaluated">, "gain" | "forgetting" | "bounds" | "withinBounds" | "baselineSha256" | "heldOut" | "anchor" | "trained">;
  failure?: { readonly stage: string; readonly kind: string; readonly error: string };
  released: boolean;
}

export interface Lineage {
  readonly jobs: Map<string, LineageEntry>;
  /** The adapter serving now (null: the base model) and the job that produced it. */
  serving: { readonly sha256: string; readonly microSha256: string; readonly jobId: string } | null;
  /** Micro-adapters of every promoted job, oldest first: what the next job TIES-merges with. */
  promotedMicro: string[];
}

/**
 * Model lineage: which job, which ledger entries, which recipe and merge, which evaluation, and
 * whether the adapter was promoted or rolled back. Entries are owned by the fold and updated in place.
 */
export const lineage: Projection<Lineage> = {
  name: "lineage",
  // 3: lastProgress carries the ETA and its time.
  version: 3,
  canHandle: ["TrainingRequested", "HostProvisioned", "TrainingProgressed", "TrainingFailed", "AdapterTrained", "AdapterEvaluated", "AdapterPromoted", "AdapterRolledBack", "HostReleased"],
  initialState: () => ({ jobs: new Map(), serving: null, promotedMicro: [] }),
  evolve: (s, e) => {
    if (e.type === "TrainingRequested") {
      const d = e.data;
      s.jobs.set(d.jobId, {
        jobId: d.jobId, requestedSeq: e.seq, requestedAt: e.metadata.time, host: d.host, recipe: d.recipe, mergeWith: d.mergeWith, status: "requested", released: false,
        ledger: { atSeq: d.ledger.atSeq, sft: d.ledger.sft.length, heldOut: d.ledger.heldOut.length, anchor: d.ledger.anchor.length, shadow: d.ledger.shadow.length, sftIds: d.ledger.sft.map((x) => x.id), heldOutIds: d.ledger.heldOut.map((x) => x.id), shadowIds: d.ledger.shadow.map((x) => x.id) },
        requestedBy: d.requestedBy, deadlineMs: d.deadlineMs,
      });
      return s;
    }
    const job = s.jobs.get((e.data as { jobId: string }).jobId);
    if (!job) return s;
    switch (e.type) {
      case "HostProvisioned":
        job.status = "running";
        job.provisioned = { host: e.data.host, provider: e.data.provider };
        break;
      case "TrainingProgressed":
        job.lastProgress = { phase: e.data.phase, step: e.data.step, of: e.data.of, loss: e.data.loss, etaSeconds: e.data.etaSeconds, at: e.metadata.time };
        break;
      case "TrainingFailed":
        job.status = "failed";
        job.failure = { stage: e.data.stage, kind: e.data.kind, error: e.data.error };
        break;
      case "AdapterTrained":
        job.status = "trained";
        job.adapter = { sha256: e.data.adapterSha256, microSha256: e.data.microSha256, merge: e.data.merge };
        break;
      case "AdapterEvaluated": {
        const { gain, forgetting, bounds, withinBounds, baselineSha256, heldOut, anchor, trained } = e.data;
        job.evaluation = { gain, forgetting, bounds, withinBounds, baselineSha256, heldOut, anchor, trained };
        break;
      }
      case "AdapterPromoted":
        job.status = "promoted";
        s.serving = { sha256: e.data.adapterSha256, microSha256: job.adapter?.microSha256 ?? e.data.adapterSha256, jobId: job.jobId };
        s.promotedMicro = [...s.promotedMicro, job.adapter?.microSha256 ?? e.data.adapterSha256];
        break;
      case "AdapterRolledBack":
        job.status = "rolled-back";
        break;
      case "HostReleased":
        job.released = true;
        break;
      default:
        break;
    }
    return s;
  },
  toJSON: (s) => ({ jobs: [...s.jobs.values()], serving: s.serving, promotedMicro: s.promotedMicro }),
  fromJSON: (j) => {
    const o = j as { jobs: LineageEntry[]; serving: Lineage["serving"]; promotedMicro: string[] };
    return { jobs: new Map(o.jobs.map((x) => [x.jobId, x])), serving: o.serving, promotedMicro: o.promotedMicro };
  },
};
