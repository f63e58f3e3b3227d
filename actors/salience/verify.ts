import type { DomainEvent } from "../../events/catalogue.ts";
import type { PolicyValues } from "../../events/salience.ts";
import type { EventStore } from "../../events/store.ts";
import type { ContentStore, SalienceModel } from "./ports.ts";
import { calibratedVerdicts, coherenceFallback, decideInput, type ModelOutput, type Scored } from "./salience.policy.ts";
import { cosine } from "../../events/vectors.ts";

/** One decision that would come out differently today, and why. */
export interface Finding {
  readonly inputId: string;
  readonly nightId: string;
  readonly seq: number;
  readonly why: "policy" | "non-determinism" | "model" | "adapter" | "forgotten";
  readonly detail: string;
  readonly recorded: string;
  readonly now: string | null;
}

const label = (e: DomainEvent | { type: string; data: unknown }): string =>
  e.type === "InputRejected" ? `InputRejected/${(e.data as { cause: string }).cause}` : e.type;

const TOLERANCE = 1e-6;

/** A recorded score judged again under a policy: coherence fallbacks depend on the thresholds too. */
export const rejudge = (s: Scored, policy: PolicyValues, vocabularySize: number, contentSha256: string, output: ModelOutput | null): DomainEvent => {
  if (s.calibration && policy.calibrated) {
    // Calibrated scores are judged again from their recorded references under the new values.
    const v = calibratedVerdicts(s.calibration, { id: s.similarity.nearest, similarity: s.similarity.nearestSimilarity }, policy);
    const coherence = s.coherence.method === "fallback" ? v.coherence : s.coherence;
    const hallucination = s.hallucination && s.hallucination.method === "fallback" ? { ...s.hallucination, hallucinated: !coherence.coherent } : s.hallucination;
    return decideInput({ ...s, coherence, hallucination, policy, calibration: { ...s.calibration, topic: v.topic, onTopic: v.onTopic } }, contentSha256, output);
  }
  const coherence = s.coherence.method === "fallback" ? coherenceFallback(s.meanNll, s.surprise, vocabularySize, policy) : s.coherence;
  const hallucination = s.hallucination && s.hallucination.method === "fallback" ? { ...s.hallucination, hallucinated: !coherence.coherent } : s.hallucination;
  return decideInput({ ...s, coherence, hallucination, policy, calibration: null }, contentSha256, output);
};

interface Recorded {
  scored?: { seq: number; data: Scored };
  decision?: { type: string; data: unknown };
  contentSha256?: string;
  output: ModelOutput | null;
  forgotten: boolean;
}

const outputOf = (m: Record<string, unknown> | undefined): ModelOutput | null =>
  typeof m?.promptSha256 === "string" ? { promptSha256: m.promptSha256, correctedSha256: typeof m.correctedSha256 === "string" ? m.correctedSha256 : null } : null;

/**
 * Replays Salience's decisions: each recorded score is measured again with the model (when it is the
 * model and adapter that scored it, by hash) and judged again under `policy`. Every decision that
 * would differ is reported with the reason: a changed policy, a different model or adapter, or
 * non-determinism (the same model measured something else).
 */
export const verifyDecisions = async (deps: { store: EventStore; content: ContentStore; model: SalienceModel }, policy: PolicyValues, nightId?: string): Promise<{ checked: number; findings: Finding[] }> => {
  const byInput = new Map<string, Recorded>();
  const get = (id: string) => byInput.get(id) ?? byInput.set(id, { output: null, forgotten: false }).get(id)!;
  for await (const e of deps.store.read({ types: new Set(["InputReceived", "InputScored", "InputAccepted", "InputRejected", "ShadowRecorded", "InputForgotten"]) })) {
    if (e.type === "InputReceived") Object.assign(get(e.data.inputId), { contentSha256: e.data.contentSha256, output: outputOf(e.data.source.metadata) });
    else if (e.type === "InputScored") get(e.data.inputId).scored = { seq: e.seq, data: e.data };
    else if (e.type === "InputForgotten") get(e.data.inputId).forgotten = true;
    else get((e.data as { inputId: string }).inputId).decision = { type: e.type, data: e.data };
  }
  const ids = deps.model.ids();
  const findings: Finding[] = [];
  let checked = 0;
  for (const [inputId, r] of byInput) {
    if (!r.scored || !r.decision || !r.contentSha256 || (nightId && r.scored.data.nightId !== nightId)) continue;
    checked++;
    const s = r.scored.data;
    const base = { inputId, nightId: s.nightId, seq: r.scored.seq, recorded: label(r.decision) };
    const now = rejudge(s, policy, ids.vocabularySize, r.contentSha256, r.output);
    if (label(now) !== base.recorded) {
      const changed = (Object.keys(policy) as Array<keyof PolicyValues>).filter((k) => JSON.stringify(policy[k]) !== JSON.stringify(s.policy[k])).map((k) => `${k} ${JSON.stringify(s.policy[k])} -> ${JSON.stringify(policy[k])}`);
      findings.push({ ...base, why: "policy", detail: `same scores, policy changed: ${changed.join(", ") || "(same values, different rule)"}`, now: label(now) });
      continue;
    }
    if (r.forgotten) continue; // its text is gone: only the recorded scores can be checked
    if (s.models.model !== ids.model || s.models.embedder !== ids.embedder) {
      findings.push({ ...base, why: "model", detail: `scored by model ${s.models.model.slice(0, 12)} / embedder ${s.models.embedder.slice(0, 12)}; this Soul runs ${ids.model.slice(0, 12)} / ${ids.embedder.slice(0, 12)}: not measured again`, now: null });
      continue;
    }
    if (s.models.adapter !== ids.adapter) {
      findings.push({ ...base, why: "adapter", detail: `scored with adapter ${s.models.adapter ?? "none"}, the Soul now serves ${ids.adapter ?? "none"}: not measured again`, now: null });
      continue;
    }
    const text = await deps.content.get(r.contentSha256);
    const prompt = r.output ? await deps.content.get(r.output.promptSha256) : undefined;
    if (!text) continue;
    const [m] = await deps.model.measure([{ text: Buffer.from(text).toString("utf8"), prompt: prompt ? Buffer.from(prompt).toString("utf8") : null }]);
    const drift = Math.abs(m!.meanNll - s.meanNll) / Math.max(1e-12, Math.abs(s.meanNll));
    const sim = cosine(m!.questionVector, s.question.vector);
    if (drift > TOLERANCE || 1 - sim > TOLERANCE) {
      findings.push({ ...base, why: "non-determinism", detail: `same model measured mean NLL ${m!.meanNll} (recorded ${s.meanNll}), question vector similarity ${sim.toFixed(8)}`, now: null });
    }
  }
  return { checked, findings };
};
