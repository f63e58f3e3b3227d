// The Soul's training decisions, on a durable consumer of their own: a Soul that was down (or a
// `sophont night` that ran without them) decides on every night it missed when it comes back.
import type { DomainEvent } from "../../events/catalogue.ts";
import type { Recorded } from "../../events/envelope.ts";
import { ledgers, type Ledgers } from "../../projections/ledgers.projection.ts";
import { lineage, type Lineage } from "../../projections/lineage.projection.ts";
import { Refusal, type Decider, type Decision } from "../decider.ts";
import { requestTraining } from "../muscle/request.ts";
import { jobRunning, trainingRule, type TrainingRuleSettings } from "./training.rule.ts";

/** Sent by the Soul's clock: asks the Muscle to stop every job still running past its own or its night's deadline. */
export type TrainingCommand = { readonly type: "CancelLateJobs" };

export interface TrainingState {
  readonly ledgers: Ledgers;
  readonly lineage: Lineage;
  /** Each night's deadline (ms since the epoch; null: none). */
  readonly deadlines: Map<string, number | null>;
  /** The night whose rule was deferred because a job was running: decided again when a job ends. */
  waiting: string | null;
  /** Jobs whose cancel was already requested (by anyone). */
  readonly cancelled: Set<string>;
  /** The night each of the Soul's jobs was requested after. */
  readonly nightOf: Map<string, string>;
}

/** Jobs not over at `nowMs` that must stop: past their night's deadline, or their own (requestedAt + deadlineMs). */
export const lateJobs = (s: TrainingState, nowMs: number): Array<{ jobId: string; reason: string }> =>
  [...s.lineage.jobs.values()].flatMap((j) => {
    const over = j.status === "failed" || j.status === "promoted" || j.status === "rolled-back" || j.status === "trained";
    if (over || s.cancelled.has(j.jobId)) return [];
    const nightId = s.nightOf.get(j.jobId);
    const night = nightId === undefined ? null : s.deadlines.get(nightId) ?? null;
    if (night !== null && night <= nowMs) return [{ jobId: j.jobId, reason: `the deadline of night ${nightId} (${new Date(night).toISOString()}) passed with the job still running` }];
    if (!jobRunning(j, nowMs)) return [{ jobId: j.jobId, reason: `its own deadline (${Math.round(j.deadlineMs / 60_000)} min after its request at ${j.requestedAt}) passed with the job still running` }];
    return [];
  });

const evolve = (s: TrainingState, e: Recorded<DomainEvent>): TrainingState => {
  if ((ledgers.canHandle as readonly string[]).includes(e.type)) ledgers.evolve(s.ledgers, e);
  if ((lineage.canHandle as readonly string[]).includes(e.type)) lineage.evolve(s.lineage, e);
  switch (e.type) {
    case "NightStarted":
      s.deadlines.set(e.data.nightId, e.data.deadlineAt === undefined ? null : Date.parse(e.data.deadlineAt));
      break;
    case "NightCompleted":
      // A new night's decision supersedes whatever an older night was waiting for.
      s.waiting = null;
      break;
    case "TrainingDeferred":
      s.waiting = e.data.reason === "job-running" ? e.data.nightId : null;
      break;
    case "TrainingRequested":
      if (e.data.rule) (s.waiting = null, s.nightOf.set(e.data.jobId, e.data.rule.nightId));
      break;
    case "TrainingCancelRequested":
      s.cancelled.add(e.data.jobId);
      break;
    default:
      break;
  }
  return s;
};

/** Jobs the Soul requests are named by night, numbered: the same decision made twice is one job. */
const jobIdFor = (lin: Lineage, nightId: string): string => {
  const prefix = `soul-${nightId}-`;
  return `${prefix}${[...lin.jobs.keys()].filter((id) => id.startsWith(prefix)).length + 1}`;
};

const decideFor = (s: TrainingState, nightId: string, atSeq: number, now: string, settings: TrainingRuleSettings): Decision[] => {
  const outcome = trainingRule(s.ledgers, s.lineage, settings, Date.parse(now), s.deadlines.get(nightId) ?? null);
  switch (outcome.kind) {
    case "quiet":
      return [];
    case "defer":
      return [{ event: { type: "TrainingDeferred", data: { nightId, rule: outcome.rule, reason: outcome.reason, detail: outcome.detail, numbers: outcome.numbers } } }];
    case "request": {
      let data;
      try {
        data = requestTraining(s.ledgers, s.lineage, {
          jobId: jobIdFor(s.lineage, nightId), host: settings.host, recipe: settings.recipe, baseModelSha256: settings.baseModelSha256,
          atSeq, deadlineMs: outcome.deadlineMs, requestedBy: "soul",
        });
      } catch (e) {
        // Pairs alone with fewer than two SFT entries: nothing a job could measure its gain on yet.
        if (e instanceof Refusal) return [];
        throw e;
      }
      return [{ event: { type: "TrainingRequested", data: { ...data, rule: { name: outcome.rule, nightId, numbers: outcome.numbers } } }, expectedSubjectSeq: 0 }];
    }
    default: {
      const never: never = outcome;
      return never;
    }
  }
};

/** After each night (and when a job it waited for ends), the Soul requests a job or says why not. */
export const trainingDecider = (settings: TrainingRuleSettings): Decider<TrainingState, TrainingCommand> => ({
  actor: "soul",
  initialState: () => ({ ledgers: ledgers.initialState(), lineage: lineage.initialState(), deadlines: new Map(), waiting: null, cancelled: new Set(), nightOf: new Map() }),
  evolve,
  reactsTo: ["NightCompleted", "AdapterPromoted", "AdapterRolledBack", "TrainingFailed"],
  react: (event, state, ctx) => {
    if (event.type === "NightCompleted") return decideFor(state, event.data.nightId, event.seq, ctx.now, settings);
    return state.waiting ? decideFor(state, state.waiting, event.seq, ctx.now, settings) : [];
  },
  accepts: ["CancelLateJobs"],
  handle: (command, state, ctx) => {
    switch (command.type) {
      case "CancelLateJobs":
        return lateJobs(state, Date.parse(ctx.now)).map(({ jobId, reason }) => ({ event: { type: "TrainingCancelRequested", data: { jobId, by: "soul", reason } } }));
      default: {
        const never: never = command.type;
        throw new Refusal(`unknown command ${String(never)}`);
      }
    }
  },
});
