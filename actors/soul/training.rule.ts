// The Soul's rule for training, pure: after a night, are there enough ledger rows that no promoted
// adapter has seen, and do the budget and the window allow a job now?
import type { Recipe, RuleNumbers } from "../../events/training.ts";
import type { Ledgers } from "../../projections/ledgers.projection.ts";
import type { Lineage, LineageEntry } from "../../projections/lineage.projection.ts";

/** The rule's settings (config.json `training`), with what a request needs besides the ledgers. */
export interface TrainingRuleSettings {
  /** New SFT Ledger entries (unseen by every promoted adapter) that call for a job. */
  readonly minNewSft: number;
  /** New preference pairs (corrected Shadow entries) that call for a job. */
  readonly minNewPairs: number;
  readonly maxJobsPerDay: number;
  /** A host of the hosts file, or null: the local provider. */
  readonly host: string | null;
  readonly recipe: Recipe;
  /** A job's own deadline, in minutes (shortened to the night's deadline when there is one). */
  readonly jobMinutes: number;
  readonly baseModelSha256: string;
}

/**
 * Defaults: 16 new SFT entries give the job's one-in-four hold-out 4 fresh texts to measure a gain
 * on (fewer is noise on the tiny models' sets); 8 new pairs make two DPO batches of 4; two jobs a day
 * leave room for one retry after a rollback without letting a bad recipe loop all day.
 */
export const defaultRuleThresholds = { minNewSft: 16, minNewPairs: 8, maxJobsPerDay: 2, jobMinutes: 60 } as const;

export type RuleOutcome =
  | { readonly kind: "quiet"; readonly numbers: RuleNumbers }
  | { readonly kind: "request"; readonly rule: string; readonly numbers: RuleNumbers; readonly deadlineMs: number }
  | { readonly kind: "defer"; readonly rule: string; readonly reason: "job-running" | "daily-budget" | "past-deadline"; readonly detail: string; readonly numbers: RuleNumbers };

/** A job is over once it has a verdict or failed; one that never started counts until its deadline. */
export const jobRunning = (j: LineageEntry, nowMs: number): boolean =>
  (j.status === "requested" || j.status === "running" || j.status === "trained") && Date.parse(j.requestedAt) + j.deadlineMs > nowMs;

/** What every promoted adapter has seen: the SFT entries (trained and held out) and the preference pairs of its job. */
const seenByPromoted = (lin: Lineage): { sft: Set<string>; pairs: Set<string> } => {
  const sft = new Set<string>();
  const pairs = new Set<string>();
  for (const j of lin.jobs.values()) {
    if (j.status !== "promoted") continue;
    for (const id of [...j.ledger.sftIds, ...j.ledger.heldOutIds]) sft.add(id);
    for (const id of j.ledger.shadowIds) pairs.add(id);
  }
  return { sft, pairs };
};

/** The numbers the rule decides on, at `nowMs`, for a night whose deadline is `deadlineMs` (null: none). */
export const ruleNumbers = (l: Ledgers, lin: Lineage, s: TrainingRuleSettings, nowMs: number, deadlineAtMs: number | null): RuleNumbers => {
  const seen = seenByPromoted(lin);
  const day = new Date(nowMs).toISOString().slice(0, 10);
  const jobs = [...lin.jobs.values()];
  return {
    newSft: [...l.sft.keys()].filter((id) => !seen.sft.has(id)).length,
    minNewSft: s.minNewSft,
    newPairs: [...l.shadow.values()].filter((e) => e.correctedSha256 !== null && !seen.pairs.has(e.inputId)).length,
    minNewPairs: s.minNewPairs,
    jobsToday: jobs.filter((j) => j.requestedAt.slice(0, 10) === day).length,
    maxJobsPerDay: s.maxJobsPerDay,
    running: jobs.filter((j) => jobRunning(j, nowMs)).length,
    msToDeadline: deadlineAtMs === null ? null : deadlineAtMs - nowMs,
  };
};

/** Decides: quiet (not enough new), request (the rules that fired), or defer (why it cannot now). */
export const trainingRule = (l: Ledgers, lin: Lineage, s: TrainingRuleSettings, nowMs: number, deadlineAtMs: number | null): RuleOutcome => {
  const numbers = ruleNumbers(l, lin, s, nowMs, deadlineAtMs);
  const fired = [
    ...(numbers.newSft >= s.minNewSft ? ["new-sft"] : []),
    ...(numbers.newPairs >= s.minNewPairs ? ["new-pairs"] : []),
  ];
  if (fired.length === 0) return { kind: "quiet", numbers };
  const rule = fired.join("+");
  if (numbers.running > 0) return { kind: "defer", rule, reason: "job-running", detail: `${numbers.running} job(s) not over yet`, numbers };
  if (numbers.jobsToday >= s.maxJobsPerDay) return { kind: "defer", rule, reason: "daily-budget", detail: `${numbers.jobsToday} job(s) today, at most ${s.maxJobsPerDay}`, numbers };
  if (numbers.msToDeadline !== null && numbers.msToDeadline <= 0) return { kind: "defer", rule, reason: "past-deadline", detail: `the night's deadline passed ${Math.round(-numbers.msToDeadline / 1000)} s ago`, numbers };
  const own = s.jobMinutes * 60_000;
  return { kind: "request", rule, numbers, deadlineMs: numbers.msToDeadline === null ? own : Math.min(own, numbers.msToDeadline) };
};
