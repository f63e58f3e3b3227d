// One line per training event, as `sophont train` and `sophont up` print them.
import type { DomainEvent } from "../../events/catalogue.ts";
import type { RuleNumbers } from "../../events/training.ts";
import { duration } from "../report/charts.ts";
import { percent as pct, readable } from "./format.ts";
import type { LineageEntry } from "../../projections/lineage.projection.ts";

const numbersOf = (n: RuleNumbers) =>
  `${n.newSft} new SFT (needs ${n.minNewSft}), ${n.newPairs} new pairs (needs ${n.minNewPairs}), ${n.jobsToday}/${n.maxJobsPerDay} jobs today, ${n.running} running`;

/** Step, loss and ETA of a job's progress, as every surface (train, up, status, the report) says them. */
export const progressLine = (p: { phase: string; step: number; of: number; loss: number | null; etaSeconds: number | null }): string =>
  `${p.phase} step ${p.step}/${p.of} loss ${p.loss?.toFixed(4) ?? "-"} ETA ${p.etaSeconds === null ? "unknown" : duration(p.etaSeconds)}`;

/** Jobs not over yet (no verdict, no failure), with the trainer's last step, loss and ETA: what `status` shows. */
export const runningJobs = (jobs: Iterable<LineageEntry>) =>
  [...jobs]
    .filter((j) => j.status === "requested" || j.status === "running" || j.status === "trained")
    .map((j) => ({ jobId: j.jobId, status: j.status, requestedBy: j.requestedBy, host: j.provisioned?.host ?? j.host ?? "local", progress: j.lastProgress ?? null }));

/** The status line of those jobs (one per job, aligned under the first). */
export const runningJobsLine = (jobs: ReturnType<typeof runningJobs>): string =>
  jobs.length === 0 ? "no job running" : jobs.map((j) => `${j.jobId} (${j.status}, by ${j.requestedBy}, on ${j.host}): ${j.progress ? progressLine(j.progress) : "no step yet"}`).join("\n            ");

/** What a person reads for a training event (undefined: not worth a line). */
export const narrateTraining = (e: DomainEvent): string | undefined => {
  switch (e.type) {
    case "NightCompleted":
      return e.data.cutOff ? `night ${e.data.nightId} cut off at its deadline ${e.data.cutOff.deadlineAt}: ${e.data.cutOff.left} input(s) left for the next night` : undefined;
    case "TrainingCancelRequested":
      return `${e.data.jobId}: cancel requested by ${e.data.by}${e.data.reason ? ` (${e.data.reason})` : ""}`;
    case "TrainingRequested":
      return e.data.rule
        ? `the Soul requested ${e.data.jobId} after night ${e.data.rule.nightId} (rule ${e.data.rule.name}: ${numbersOf(e.data.rule.numbers)})`
        : `${e.data.jobId} requested by ${e.data.requestedBy}`;
    case "TrainingDeferred":
      return `night ${e.data.nightId}: training deferred (${e.data.reason}: ${e.data.detail}; ${numbersOf(e.data.numbers)})`;
    case "TrainingProgressed":
      return `  ${e.data.jobId} ${progressLine(e.data)}`;
    case "AdapterEvaluated":
      return `${e.data.jobId} evaluated: held-out perplexity ${readable(e.data.heldOut.before)} -> ${readable(e.data.heldOut.after)} (gain ${pct(e.data.gain)}), anchor ${readable(e.data.anchor.before)} -> ${readable(e.data.anchor.after)} (forgetting ${pct(e.data.forgetting)})${e.data.probe ? `, general probe ${readable(e.data.probe.before)} -> ${readable(e.data.probe.after)} (${pct(e.data.probe.rise)} ${typeof e.data.probe.base === "number" ? `over the base's ${readable(e.data.probe.base)}` : "over the serving adapter"}${e.data.probe.unknownShare === null ? "" : `, ${pct(e.data.probe.unknownShare)} of its tokens unknown to the model`})` : ""}`;
    case "AdapterPromoted":
      return `${e.data.jobId} promoted: ${e.data.adapterSha256} now serves`;
    case "AdapterRolledBack":
      return `${e.data.jobId} rolled back: ${e.data.reason}; ${e.data.servingSha256 ?? "the base model"} keeps serving`;
    case "TrainingFailed":
      return `${e.data.jobId} failed at ${e.data.stage} (${e.data.kind}): ${e.data.error}`;
    case "InstanceCreated":
      return `${e.data.jobId}: rented ${e.data.purpose === "staging" ? `${e.data.machineType ?? "a machine"} (no GPU) to stage the base` : `${e.data.gpuType}`} in ${e.data.region} at ${e.data.pricePerHour}/h (${e.data.provider} ${e.data.instanceId})${e.data.volume ? ` with the volume ${e.data.volume.name}` : ""}`;
    case "InstanceTerminated":
      return `${e.data.jobId}: terminated ${e.data.instanceId}${e.data.purpose === "staging" ? " (stager)" : ""} after ${duration(e.data.seconds)}, cost ${e.data.cost.toFixed(4)} (${e.data.reason})`;
    case "BaseStaged":
      return `${e.data.jobId}: the base is on the volume ${e.data.volume.name} (${e.data.stagingInstanceId ? `${e.data.sentBytes} bytes sent in ${e.data.seconds.toFixed(1)} s by ${e.data.stagingInstanceId}` : "already there"}); storage ${e.data.volume.storageCostPerMonth.toFixed(2)} a month, policy ${e.data.volume.policy}`;
    case "VolumeKept":
      return `${e.data.jobId}: the volume ${e.data.name} is kept (${e.data.sizeGiB} GiB, ${e.data.storageCostPerMonth.toFixed(2)} a month while it exists)`;
    case "VolumeDeleted":
      return `${e.data.jobId}: the volume ${e.data.name} is deleted (policy delete)`;
    default:
      return undefined;
  }
};
