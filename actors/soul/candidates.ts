// The Soul's choice among a job's candidate adapters, pure: every candidate measured on the same
// held-out sets against the same serving adapter; the best held-out gain among those within every
// bound is the one judged (promoted), and every candidate's numbers go into the evaluation event.
import type { EventData } from "../../events/catalogue.ts";
import type { EvaluationBounds } from "../../events/training.ts";
import type { Decision } from "../decider.ts";
import { judgeAdapter, type Measured, type SetScore } from "./evaluation.ts";

export type Candidate = NonNullable<EventData<"AdapterTrained">["candidates"]>[number];
type Judged = NonNullable<EventData<"AdapterEvaluated">["candidates"]>[number];

/** One candidate's sets after (the before sets are the serving adapter's, shared by all). */
export interface CandidateScores {
  readonly candidate: Candidate;
  readonly heldOut: SetScore;
  readonly anchor: SetScore;
  readonly probe: SetScore | undefined;
  /** The trained set after, measured for the chosen candidate only (absent: counted as unchanged). */
  readonly trained?: SetScore;
}

/** The candidates of an AdapterTrained: its list, or (older jobs, one adapter) the adapter itself. */
export const candidatesOf = (trained: EventData<"AdapterTrained">): Candidate[] =>
  trained.candidates?.length ? [...trained.candidates] : [{ method: trained.merge.method, params: {}, sha256: trained.adapterSha256, rank: trained.rank, reconstructionError: trained.merge.reconstructionError, folded: false }];

type Base = Omit<Measured, "adapterSha256" | "trained" | "heldOut" | "anchor" | "probe">;
/** The serving adapter's sets, shared by every candidate. */
export interface Before { readonly trained: SetScore; readonly heldOut: SetScore; readonly anchor: SetScore; readonly probe: SetScore | undefined; readonly unknownShare: number | null; readonly probeBase?: SetScore }

/** The serving adapter's sets (before) with one candidate's (after); the trained set is the chosen one's alone. */
const asMeasured = (base: Base, before: Before, c: CandidateScores): Measured => ({
  ...base, adapterSha256: c.candidate.sha256, trained: { before: before.trained, after: c.trained ?? before.trained },
  heldOut: { before: before.heldOut, after: c.heldOut }, anchor: { before: before.anchor, after: c.anchor },
  ...(before.probe && c.probe ? { probe: { before: before.probe, after: c.probe, unknownShare: before.unknownShare, ...(before.probeBase ? { base: before.probeBase } : {}) } } : {}),
});

const judgedOf = (c: CandidateScores, evaluated: EventData<"AdapterEvaluated">): Judged => ({
  method: c.candidate.method, params: c.candidate.params, sha256: c.candidate.sha256, rank: c.candidate.rank,
  heldOut: evaluated.heldOut, anchor: evaluated.anchor, probeAfter: evaluated.probe?.after ?? null,
  gain: evaluated.gain, forgetting: evaluated.forgetting, rise: evaluated.probe?.rise ?? 0, withinBounds: evaluated.withinBounds,
});

/** Index of the best: within bounds first, then the higher gain, then the lower rank, then the earlier. */
export const bestOf = (judged: readonly Judged[]): number =>
  judged.reduce((best, j, i) => {
    const b = judged[best]!;
    if (j.withinBounds !== b.withinBounds) return j.withinBounds ? i : best;
    if (j.gain !== b.gain) return j.gain > b.gain ? i : best;
    return j.rank < b.rank ? i : best;
  }, 0);

/**
 * AdapterEvaluated for the chosen candidate (its numbers at the top, every candidate's in `candidates`),
 * then AdapterPromoted or AdapterRolledBack of that candidate, as judgeAdapter decides them.
 */
export const chooseCandidate = (base: Base, before: Before, scores: readonly CandidateScores[], bounds: EvaluationBounds): { decisions: Decision[]; chosen: Candidate; index: number } => {
  if (scores.length === 0) throw new Error("no candidate to choose from");
  const judgements = scores.map((c) => judgeAdapter(asMeasured(base, before, c), bounds));
  const judged = judgements.map((d, i) => judgedOf(scores[i]!, d[0]!.event.data as EventData<"AdapterEvaluated">));
  const i = bestOf(judged);
  const chosen = scores[i]!.candidate;
  const [evaluated, verdict] = judgements[i]!;
  const within = judged.filter((j) => j.withinBounds).length;
  const reason = within > 0
    ? `best held-out gain among the ${within} of ${judged.length} candidate(s) within bounds`
    : `none of the ${judged.length} candidate(s) is within bounds; the best held-out gain is recorded`;
  const data = { ...(evaluated!.event.data as EventData<"AdapterEvaluated">), candidates: judged, chosen: { method: chosen.method, sha256: chosen.sha256, reason } };
  return { decisions: [{ event: { type: "AdapterEvaluated", data } }, verdict!], chosen, index: i };
};
