// The Soul's judgement of a trained adapter, pure: given perplexities measured with the serving
// adapter and with the candidate, and the configured bounds, it decides promotion or rollback.
import type { EventData } from "../../events/catalogue.ts";
import type { EvaluationBounds } from "../../events/training.ts";
import type { Decision } from "../decider.ts";

/**
 * Default bounds: the held-out perplexity must not rise, the anchor's evaluation part may rise by at
 * most 10%, and the general probe set's perplexity by at most 5% over the base model (where the
 * base was measured; else over the serving adapter). Without the probe bound the gate could not see
 * forgetting of general language: on the default English models the tiny recipe's first job (lr
 * 0.02) lowered the demo's held-out perplexity 48% while the probe's rose from 564 to 14,027, and it
 * was promoted, the anchor (domain texts) having improved too. `training.bounds` in config.json
 * overrides each.
 */
export const defaultBounds: EvaluationBounds = { minGain: 0, maxForgetting: 0.1, maxProbeRise: 0.05 };

/** Mean negative log-likelihood over a set of texts, with the tokens it was taken on. */
export interface SetScore {
  readonly texts: number;
  readonly tokens: number;
  readonly meanNll: number;
}

/** Token-weighted perplexity of per-text results: exp(total NLL / total tokens). */
export const pooled = (results: ReadonlyArray<{ readonly meanNll: number; readonly tokenCount: number }>): SetScore => {
  const tokens = results.reduce((n, r) => n + r.tokenCount, 0);
  const nll = results.reduce((n, r) => n + r.meanNll * r.tokenCount, 0);
  return { texts: results.length, tokens, meanNll: tokens === 0 ? 0 : nll / tokens };
};

const compared = (before: SetScore, after: SetScore) => ({ texts: after.texts, tokens: after.tokens, before: Math.exp(before.meanNll), after: Math.exp(after.meanNll) });

export interface Measured {
  readonly jobId: string;
  readonly adapterSha256: string;
  readonly baselineSha256: string | null;
  readonly trained: { readonly before: SetScore; readonly after: SetScore };
  readonly heldOut: { readonly before: SetScore; readonly after: SetScore };
  readonly anchor: { readonly before: SetScore; readonly after: SetScore };
  /** The general probe set, with the share of its tokens the model does not know (null: not known). */
  readonly probe?: { readonly before: SetScore; readonly after: SetScore; readonly unknownShare: number | null; readonly base?: SetScore };
}

/**
 * AdapterEvaluated, then AdapterPromoted when the gain (1 - after/before on held-out accepted inputs)
 * reaches `minGain` and the forgetting (after/before - 1 on the Golden Anchor) stays within
 * `maxForgetting`, AdapterRolledBack otherwise. A set with no tokens counts as unchanged. A
 * non-finite perplexity (a diverged adapter) is out of bounds.
 */
export const judgeAdapter = (m: Measured, bounds: EvaluationBounds): Decision[] => {
  const trained = compared(m.trained.before, m.trained.after);
  const heldOut = compared(m.heldOut.before, m.heldOut.after);
  const anchor = compared(m.anchor.before, m.anchor.after);
  const ratio = (c: { before: number; after: number; tokens: number }) => (c.tokens === 0 ? 1 : c.after / c.before);
  const rawGain = 1 - ratio(heldOut);
  const rawForgetting = ratio(anchor) - 1;
  const probeSet = m.probe ? compared(m.probe.before, m.probe.after) : undefined;
  // Against the base model where it was measured: small rises must not compound over a season.
  const probeBase = m.probe?.base ? Math.exp(m.probe.base.meanNll) : undefined;
  const rawRise = probeSet ? (probeBase !== undefined && probeSet.tokens > 0 ? probeSet.after / probeBase - 1 : ratio(probeSet) - 1) : 0;
  const finite = [trained.after, heldOut.after, anchor.after, rawGain, rawForgetting, rawRise].every(Number.isFinite);
  // The log holds finite numbers only: a diverged adapter is recorded with the worst value we can write.
  const gain = Number.isFinite(rawGain) ? rawGain : -Number.MAX_VALUE;
  const forgetting = Number.isFinite(rawForgetting) ? rawForgetting : Number.MAX_VALUE;
  const cap = (c: typeof trained) => ({ ...c, after: Number.isFinite(c.after) ? c.after : Number.MAX_VALUE });
  const rise = Number.isFinite(rawRise) ? rawRise : Number.MAX_VALUE;
  const withinBounds = finite && gain >= bounds.minGain && forgetting <= bounds.maxForgetting && (bounds.maxProbeRise === undefined || rise <= bounds.maxProbeRise);
  const evaluated: EventData<"AdapterEvaluated"> = {
    jobId: m.jobId, adapterSha256: m.adapterSha256, baselineSha256: m.baselineSha256,
    trained: cap(trained), heldOut: cap(heldOut), anchor: cap(anchor), gain, forgetting, bounds, withinBounds,
    ...(probeSet && m.probe ? { probe: { ...cap(probeSet), rise, unknownShare: m.probe.unknownShare, ...(probeBase !== undefined ? { base: probeBase } : {}) } } : {}),
  };
  const verdict: Decision = withinBounds
    ? { event: { type: "AdapterPromoted", data: { jobId: m.jobId, adapterSha256: m.adapterSha256, previousSha256: m.baselineSha256 } } }
    : { event: { type: "AdapterRolledBack", data: { jobId: m.jobId, adapterSha256: m.adapterSha256, servingSha256: m.baselineSha256, reason: reasonOf(gain, forgetting, rise, bounds, finite) } } };
  return [{ event: { type: "AdapterEvaluated", data: evaluated } }, verdict];
};

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

const reasonOf = (gain: number, forgetting: number, rise: number, bounds: EvaluationBounds, finite: boolean): string => {
  if (!finite) return "the candidate's perplexity is not finite (the adapter diverged)";
  const why = [];
  if (gain < bounds.minGain) why.push(`held-out gain ${pct(gain)} is below the minimum ${pct(bounds.minGain)}`);
  if (forgetting > bounds.maxForgetting) why.push(`anchor forgetting ${pct(forgetting)} exceeds the maximum ${pct(bounds.maxForgetting)}`);
  if (bounds.maxProbeRise !== undefined && rise > bounds.maxProbeRise) why.push(`general probe perplexity rose ${pct(rise)}, more than the maximum ${pct(bounds.maxProbeRise)}`);
  return why.join("; ");
};
