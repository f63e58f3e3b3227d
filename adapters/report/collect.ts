import type { DomainEvent } from "../../events/catalogue.ts";
import type { Recorded } from "../../events/envelope.ts";
import type { EventStore, Until } from "../../events/store.ts";
import { centroids, type Centroids } from "../../projections/centroids.projection.ts";
import { nightSummaries, type NightSummaries } from "../../projections/night-summaries.projection.ts";
import { projectAt } from "../../projections/runner.ts";

type Of<T extends DomainEvent["type"]> = Extract<Recorded<DomainEvent>, { type: T }>;

/** Everything the report shows, read from the log as of one point. */
export interface ReportData {
  readonly until: number;
  readonly generatedAt: string;
  readonly nights: NightSummaries;
  readonly centroids: Centroids;
  /** Off-topic rejected questions (the Antechamber), with the cluster each belongs to in the last clustering. */
  readonly rejected: Array<{ inputId: string; seq: number; vector: ReadonlyArray<number>; clusterId: string | null }>;
  readonly clusterings: Array<Of<"AntechamberClustered">>;
  readonly births: Array<Of<"SatelliteBorn">>;
  readonly proposals: Array<Of<"MitosisProposed">>;
  readonly adapters: Array<{
    jobId: string;
    trained?: Of<"AdapterTrained">;
    evaluated?: Of<"AdapterEvaluated">;
    outcome?: Of<"AdapterPromoted"> | Of<"AdapterRolledBack">;
  }>;
  /** Each job's progress as the trainer reported it (step, loss, ETA), in order, and how it ended if it did. */
  readonly training: Array<{ jobId: string; progress: Array<Of<"TrainingProgressed">>; failed?: Of<"TrainingFailed"> }>;
  /** Every event a number in the report links to, by sequence. */
  readonly cited: Map<number, Recorded<DomainEvent>>;
}

const TYPES = new Set(["TrainingProgressed", "TrainingFailed", "InputRejected", "AntechamberClustered", "SatelliteBorn", "MitosisProposed", "AdapterTrained", "AdapterEvaluated", "AdapterPromoted", "AdapterRolledBack", "NightStarted", "NightCompleted"]);

export const collectReport = async (store: EventStore, until: Until): Promise<ReportData> => {
  const untilSeq = until === "now" ? await store.lastSeq() : "seq" in until ? until.seq : await store.seqAt(until.time);
  const [nights, cents] = await Promise.all([projectAt(store, nightSummaries, { seq: untilSeq }), projectAt(store, centroids, { seq: untilSeq })]);
  const data: ReportData = { until: untilSeq, generatedAt: new Date().toISOString(), nights, centroids: cents, rejected: [], clusterings: [], births: [], proposals: [], adapters: [], training: [], cited: new Map() };
  const jobs = new Map<string, ReportData["adapters"][number]>();
  const job = (id: string) => jobs.get(id) ?? jobs.set(id, { jobId: id }).get(id)!;
  const runs = new Map<string, ReportData["training"][number]>();
  const run = (id: string) => runs.get(id) ?? runs.set(id, { jobId: id, progress: [] }).get(id)!;
  for await (const e of store.read({ until: { seq: untilSeq }, types: TYPES })) {
    switch (e.type) {
      case "TrainingProgressed":
        // Only the last step of a job is cited (below): the curve is drawn from all of them.
        run(e.data.jobId).progress.push(e);
        continue;
      case "TrainingFailed":
        run(e.data.jobId).failed = e;
        break;
      case "InputRejected":
        if (e.data.cause === "off-topic") data.rejected.push({ inputId: e.data.inputId, seq: e.seq, vector: e.data.questionVector, clusterId: null });
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
    data.cited.set(e.seq, e);
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
