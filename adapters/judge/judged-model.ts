// The judge port's composition: the local model measures every input; where its coherence verdict
// is unsure (or always, if so configured) the frontier judge gives the verdict instead, and the
// measurement carries the judge's record into InputScored.
//
// Confidence of the local verdict: the fallback calls a text incoherent when its mean NLL reaches
// `uniformFraction` of ln V (a uniform guess). The confidence is the margin of the text's ratio
// from that threshold, relative to it: |meanNll / ln V - uniformFraction| / uniformFraction,
// clipped to 0..1. A text right at the threshold has confidence 0; one far from it approaches 1.
import type { Measurement, SalienceModel } from "../../actors/salience/ports.ts";
import type { AnthropicJudge } from "./anthropic.ts";

export const localConfidence = (meanNll: number, vocabularySize: number, uniformFraction: number): number =>
  Math.min(1, Math.abs(meanNll / Math.log(Math.max(2, vocabularySize)) - uniformFraction) / uniformFraction);

/** A SalienceModel whose unsure coherence verdicts come from the frontier judge. */
export const judgedModel = (inner: SalienceModel, judge: AnthropicJudge, uniformFraction: number): SalienceModel => ({
  ids: () => inner.ids(),
  embed: (texts) => inner.embed(texts),
  measure: async (items) => {
    const measured = await inner.measure(items);
    const when = judge.config.when;
    return Promise.all(measured.map(async (m, i): Promise<Measurement> => {
      const item = items[i]!;
      if (item.reference) return m; // a yardstick, not a decision: nothing to judge
      const confidence = localConfidence(m.meanNll, inner.ids().vocabularySize, uniformFraction);
      if (when !== "always" && confidence >= when.below) return m;
      const v = await judge.verdict(item.nightId ?? "unknown", item.inputId ?? null, item.text, confidence);
      return "coherent" in v ? { ...m, coherence: { coherent: v.coherent, detail: `${v.record.judge} ${v.record.model}: ${v.reason}` }, judge: v.record } : { ...m, judge: v.record };
    }));
  },
});
