import type { DomainEvent } from "../../events/catalogue.ts";
import type { Recorded } from "../../events/envelope.ts";
import type { EventStore, Until } from "../../events/store.ts";
import { centroids, type Centroids } from "../../projections/centroids.projection.ts";
import { nightSummaries, type NightSummaries } from "../../projections/night-summaries.projection.ts";
import { projectAt } from "../../projections/runner.ts";
import { defaultAirlock } from "../egress/policy.ts";
import { agentsTextView, RejectionCollector, type RejectionsByCause, type TextView } from "./rejections.ts";

type Of<T extends DomainEvent["type"]> = Extract<Recorded<DomainEvent>, { type: T }>;

/** Everything the report shows, read from the log as of one point. */
export interface ReportData {
  readonly until: number;
  readonly generatedAt: string;
  readonly nights: NightSummaries;
  readonly centroids: Centroids;
  /** Off-topic rejected questions (the Antechamber), with the cluster each belongs to in the last clustering. */
  readonly rejected: Array<{ inputId: string; seq: number; vector: ReadonlyArray<number>; clusterId: string | null; question: string | null; text?: string }>;
  /** Every rejection by cause, with the latest examples (texts as the airlock lets agents read them). */
  readonly rejections: RejectionsByCause;
  /** inputId -> the sha256 of its text (for a reader allowed to show it). */
  readonly contentOf: Map<string, string>;
  readonly clusterings: Array<Of<"AntechamberClustered">>;
  readonly births: Array<Of<"SatelliteBorn">>;
  readonly proposals: Array<Of<"MitosisProposed">>;
  readonly adapters: Array<{
    jobId: string;
    trained?: Of<"AdapterTrained">;
    evaluated?: Of<"AdapterEvaluated">;
    outcome?: Of<"AdapterPromoted"> | Of<"AdapterRolledBack">;
    requested?: Of<"TrainingRequested">;
    provisioned?: Of<"HostProvisioned">;
    failed?: Of<"TrainingFailed">;
  }>;
  /** Each job's progress as the trainer reported it (step, loss, ETA), in order, and how it ended if it did. */
  readonly training: Array<{ jobId: string; progress: Array<Of<"TrainingProgressed">>; failed?: Of<"TrainingFailed"> }>;
  /** Every event a number in the report links to, by sequence. */
  readonly cited: Map<number, Recorded<DomainEvent>>;
}

/** The events a number in the report cites (the appendix lists them; of a job's progress, only its last step). */
const CITED = new Set(["TrainingFailed", "AntechamberClustered", "SatelliteBorn", "MitosisProposed", "AdapterTrained", "AdapterEvaluated", "AdapterPromoted", "AdapterRolledBack", "NightStarted", "NightCompleted"]);
const TYPES = new Set([...CITED, "InputReceived", "InputScored", "InputRejected", "TrainingRequested", "HostProvisioned", "TrainingProgressed"]);

export interface CollectOptions {
  /** How derived text is read (default: as agents read it under the default airlock). */
  readonly text?: TextView;
  /** Examples kept per rejection cause (default 3). */
  readonly examplesPerCause?: number;
}

/** The sequence a position names (the last one at or before a time; the end of the log for "now"). */
export const seqOf = async (store: EventStore, until: Until): Promise<number> => (until === "now" ? store.lastSeq() : "seq" in until ? until.seq : store.seqAt(until.time));

export const collectReport = async (store: EventStore, until: Until, options: CollectOptions = {}): Promise<ReportData> => {
  const untilSeq = await seqOf(store, until);
  const [nights, cents] = await Promise.all([projectAt(store, nightSummaries, { seq: untilSeq }), projectAt(store, centroids, { seq: untilSeq })]);
  const rejections = new RejectionCollector(options.text ?? (await agentsTextView(store, defaultAirlock)), options.examplesPerCause);
  const data: ReportData = { until: untilSeq, generatedAt: new Date().toISOString(), nights, centroids: cents, rejected: [], rejections: rejections.view, contentOf: new Map(), clusterings: [], births: [], proposals: [], adapters: [], training: [], cited: new Map() };
  const jobs = new Map<string, ReportData["adapters"][number]>();
  const job = (id: string) => jobs.get(id) ?? jobs.set(id, { jobId: id }).get(id)!;
  const runs = new Map<string, ReportData["training"][number]>();
  const run = (id: string) => runs.get(id) ?? runs.set(id, { jobId: id, progress: [] }).get(id)!;
  for await (const e of store.read({ until: { seq: untilSeq }, types: TYPES })) {
    rejections.add(e);
    switch (e.type) {
      case "InputReceived":
        data.contentOf.set(e.data.inputId, e.data.contentSha256);
        break;
      case "TrainingProgressed":
        // Only the last step of a job is cited (below): the curve is drawn from all of them.
        run(e.data.jobId).progress.push(e);
        break;
      case "InputRejected":
        if (e.data.cause === "off-topic") data.rejected.push({ inputId: e.data.inputId, seq: e.seq, vector: e.data.questionVector, clusterId: null, question: rejections.questions.get(e.data.inputId) ?? null });
        break;
      case "TrainingRequested":
        job(e.data.jobId).requested = e;
        break;
      case "HostProvisioned":
        job(e.data.jobId).provisioned = e;
        break;
      case "TrainingFailed":
        job(e.data.jobId).failed = e;
        run(e.data.jobId).failed = e;
        break;
      case "AntechamberClustered":
        data.clusterings.push(e);
        break;
      case "SatelliteBorn":
        data.births.push(e);
        break;
      case "MitosisProposed":
        data.proposals.push(e);
        break;
      case "AdapterTrained":
        job(e.data.jobId).trained = e;
        break;
      case "AdapterEvaluated":
        job(e.data.jobId).evaluated = e;
        break;
      case "AdapterPromoted":
      case "AdapterRolledBack":
        job(e.data.jobId).outcome = e;
        break;
      default:
        break;
    }
    if (CITED.has(e.type)) data.cited.set(e.seq, e);
  }
  // Each question is drawn in the colour of the last cluster that held it (the window moves on).
  const memberOf = new Map<string, string>();
  for (const k of data.clusterings) for (const c of k.data.clusters) for (const m of c.members) memberOf.set(m, c.clusterId);
  for (const r of data.rejected) r.clusterId = memberOf.get(r.inputId) ?? null;
  data.adapters.push(...jobs.values());
  data.training.push(...runs.values());
  for (const r of data.training) {
    const last = r.progress.at(-1);
    if (last) data.cited.set(last.seq, last);
  }
  return data;
};
