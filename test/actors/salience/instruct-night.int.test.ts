import { Effect } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActorHost } from "../../../actors/host.ts";
import type { SalienceModel } from "../../../actors/salience/ports.ts";
import { SalienceWorker } from "../../../actors/salience/worker.ts";
import { soulDecider } from "../../../actors/soul/soul.decider.ts";
import { ingestFiles } from "../../../adapters/ingest/ingest.ts";
import { parseQuestions, seedPreoccupation } from "../../../adapters/ingest/preoccupation.ts";
import { buildNativeScorer } from "../../../adapters/llm/native/build.ts";
import { ONE_PASS_ANSWER, salienceModelOn } from "../../../adapters/llm/salience-model.ts";
import { corpusLines } from "../../adapters/llm/support.ts";
import { collect } from "../../support/events.ts";
import { openInstructSalience } from "../../support/models.ts";
import { startTestNats, type TestNats } from "../../support/nats.ts";
import { waitUntil } from "../../support/night-actors.ts";
import { JetStreamEventStore } from "../../../adapters/nats/event-store.ts";
import { ObjectContentStore } from "../../../adapters/nats/content-store.ts";

const build = await buildNativeScorer();
/** Strings bounded short: random weights never close one, so the answer's length is set by these. */
const ANSWER = { ...ONE_PASS_ANSWER, questionChars: 12, reasonChars: 8, maxTokens: 160 };
/** A context of 1,024 tokens: the long input below does not fit one pass and takes the windowed branch. */
const CONTEXT = 1024;

const words = corpusLines("heldout", "astronomy").join(" ").split(/\s+/);
const LONG = Array.from({ length: 1400 }, (_, i) => words[i % words.length]).join(" ");
const outputs = [
  { prompt: "Tell me about comets.", text: corpusLines("heldout", "astronomy")[40] },
  { prompt: "Tell me about stars.", text: corpusLines("heldout", "astronomy")[42] },
].map((r) => JSON.stringify(r)).join("\n");

let models: Awaited<ReturnType<typeof openInstructSalience>>;

beforeAll(async () => {
  if (!build.ok) return;
  models = await openInstructSalience({ contextSize: CONTEXT, answer: ANSWER });
}, 180_000);
afterAll(async () => { await models?.close(); });

/** A night of Salience on its own nats-server: the astronomy and cooking lines, two model outputs and one long text. */
const night = async (stream: string, model: SalienceModel) => {
  const nats: TestNats = await startTestNats();
  const nc = await nats.connect();
  const store = new JetStreamEventStore(nc);
  const content = new ObjectContentStore(nc);
  await seedPreoccupation(store, model, parseQuestions("How do planets move around a star?\nWhat does a telescope show of distant galaxies?").questions, "seed");
  const files = [
    { path: "astronomy.log", bytes: Buffer.from(corpusLines("heldout", "astronomy").slice(0, 5).join("\n")) },
    { path: "cooking.log", bytes: Buffer.from(corpusLines("heldout", "cooking").slice(0, 3).join("\n")) },
    { path: "outputs.jsonl", bytes: Buffer.from(outputs) },
    { path: "long.log", bytes: Buffer.from(LONG) },
  ];
  await ingestFiles({ store, content }, files, { day: "2026-12-03", maxBytes: 100_000, correlationId: stream });
  const soul = new ActorHost(store, soulDecider);
  const salience = new SalienceWorker(store, content, model, { batchSize: 4 });
  await soul.start();
  await salience.start();
  await soul.command({ id: `start-${stream}`, actor: "test", command: { type: "StartNight", day: "2026-12-03", trigger: "cli" } });
  await waitUntil(async () => soul.current().nights["2026-12-03"]?.completed === true, 150_000, "the night");
  await salience.stop();
  await soul.stop();
  const log = await collect(store.read({}));
  store.close();
  await nats.stop();
  return {
    scored: log.flatMap((e) => (e.type === "InputScored" ? [e.data] : [])),
    decided: log.filter((e) => ["InputAccepted", "InputRejected", "ShadowRecorded"].includes(e.type)).map((e) => (e.data as { inputId: string }).inputId),
    received: log.filter((e) => e.type === "InputReceived").length,
    unmeasurable: log.flatMap((e) => (e.type === "InputRejected" && e.data.cause === "unmeasurable" ? [e.data.reason] : [])),
  };
};

/** The port, counting its measure calls and the onePass and perplexity calls the language model gets under them. */
const counted = () => {
  const calls = { measure: 0, onePass: 0, perplexity: 0 };
  const lm = Object.create(models.lm) as typeof models.lm;
  Object.defineProperty(lm, "onePass", { value: (r: Parameters<NonNullable<typeof models.lm.onePass>>[0], o: Parameters<NonNullable<typeof models.lm.onePass>>[1]) => (calls.onePass++, models.lm.onePass!(r, o)) });
  Object.defineProperty(lm, "perplexity", { value: (...a: Parameters<typeof models.lm.perplexity>) => (calls.perplexity++, models.lm.perplexity(...a)) });
  const inner = salienceModelOn(lm, models.embedder, ANSWER);
  const model: SalienceModel = { ...inner, measure: (items) => (calls.measure++, inner.measure(items)) };
  return { model, calls };
};

describe.skipIf(!build.ok)("a night on an instruction model (random-weight ChatML, native scorer)", () => {
  it("takes the one-pass path: one onePass per batch, InputScored says so, an embedded question is the question's vector, outputs get a hallucination verdict, the long text goes through the windows", async () => {
    expect(models.lm.onePass).not.toBeNull();
    const { model, calls } = counted();
    const r = await night("onepass", model);
    expect(new Set(r.decided).size).toBe(r.received);
    expect(r.unmeasurable).toEqual([]);
    expect(r.scored.length).toBe(r.received);
    expect(calls.onePass).toBe(calls.measure);
    expect(calls.perplexity, "no text is evaluated a second time for its perplexity").toBe(0);
    const prefixes = new Set(r.scored.map((s) => s.evaluation?.prefixSha256));
    expect(prefixes.size).toBe(1);
    expect([...prefixes][0]).toMatch(/^[0-9a-f]{64}$/);
    const long = r.scored.filter((s) => s.evaluation?.method === "windowed-truncated");
    expect(long).toHaveLength(1);
    expect(long[0]!.tokenCount).toBeGreaterThan(CONTEXT);
    expect(long[0]!.evaluation!.tokensEvaluated, "its windows count, and its head once more").toBeGreaterThan(long[0]!.tokenCount);
    let questioned = 0;
    for (const s of r.scored) {
      expect(s.evaluation?.method === "one-pass" || s.evaluation?.method === "windowed-truncated").toBe(true);
      expect(s.evaluation!.tokensEvaluated).toBeGreaterThan(0);
      if (s.evaluation!.fallback !== null) continue;
      expect(s.coherence.method).toBe("model");
      // The vector is the distilled question's, embedded by the same embedder (or, where the question embeds to nothing, the text's).
      if (s.question.method === "model") {
        const [v] = await Effect.runPromise(models.embedder.embed([s.question.text!]));
        s.question.vector.forEach((x, i) => expect(x).toBeCloseTo(v![i]!, 5));
        questioned++;
      }
    }
    console.log(`questions embedded: ${questioned} of ${r.scored.length}; e.g. ${JSON.stringify(r.scored.map((s) => s.question.text).slice(0, 4))}`);
    // Not asserted > 0: the random-weight model's questions are pieces the tiny embedder knows nothing of (all-zero vectors), so the text's embedding stands for them.
    const answered = r.scored.filter((s) => s.evaluation!.fallback === null);
    expect(answered.length, "answers that ended under the grammar").toBeGreaterThan(r.scored.length / 2);
    const outputsScored = r.scored.filter((s) => s.hallucination !== null);
    expect(outputsScored).toHaveLength(2);
    for (const s of outputsScored) if (s.evaluation!.fallback === null) expect(s.hallucination!.method).toBe("model");
    expect(outputsScored.some((s) => s.hallucination!.method === "model")).toBe(true);
  }, 240_000);

  it("tokens evaluated per input token: the one-pass path <= 1.3 on a night of varied lengths, the four-call path >= 2 on the same texts", async () => {
    const bos = (await Effect.runPromise(models.lm.tokenize(""))).length;
    const count = async (text: string) => (await Effect.runPromise(models.lm.tokenize(text))).length - bos;
    const night = await Promise.all([[60, null], [150, null], [250, null], [420, null], [200, "Tell me about the night sky."]].map(async ([n, prompt], i) => {
      const text = words.slice(i * 150, i * 150 + Number(n)).join(" ");
      return { text, prompt: prompt as string | null, tokens: await count(text) };
    }));
    const input = night.reduce((n, x) => n + x.tokens, 0);
    const items = night.map(({ text, prompt }) => ({ text, prompt }));

    // One pass: the scorer's report per input, and the shared prefix once for the night.
    const before = models.lm.evaluatedTokens!;
    const measured = await salienceModelOn(models.lm, models.embedder, ANSWER).measure(items);
    const perInput = measured.reduce((n, m) => n + m.evaluation!.tokensEvaluated, 0);
    const prefix = measured[0]!.evaluation!.prefixTokens;
    // Every text fits one pass (a longer one is scored by the windows as well: see the first test).
    expect(measured.map((m) => m.evaluation!.method)).toEqual(night.map(() => "one-pass"));
    expect([perInput, perInput + prefix], "the scorer put through the model what the events say (the prefix at most once)").toContain(models.lm.evaluatedTokens! - before);
    for (const [k, m] of measured.entries()) expect(m.evaluation!.tokensEvaluated).toBeGreaterThan(night[k]!.tokens);
    const onePass = (perInput + prefix) / input;

    // Four calls: the perplexity pass (the scorer) and each prompt's completion (node-llama-cpp's tokenMeter).
    const withheld = Object.defineProperty(Object.create(models.lm) as typeof models.lm, "onePass", { value: null });
    const scored = withheld.evaluatedTokens!, completed = withheld.completionTokens;
    await salienceModelOn(withheld, models.embedder, ANSWER).measure(items);
    const fourCall = (withheld.evaluatedTokens! - scored + withheld.completionTokens - completed) / input;
    console.log(`tokens evaluated per input token over ${input} input tokens (${night.map((x) => x.tokens).join(", ")}): one-pass ${onePass.toFixed(3)}, four-call ${fourCall.toFixed(3)}`);
    expect(onePass).toBeLessThanOrEqual(1.3);
    expect(fourCall).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it("a token budget too small for any answer: every input falls back (maxTokens recorded) and the night completes", async () => {
    const inner = salienceModelOn(models.lm, models.embedder, { ...ANSWER, maxTokens: 3 });
    const r = await night("budget", inner);
    expect(new Set(r.decided).size).toBe(r.received);
    expect(r.unmeasurable).toEqual([]);
    expect(r.scored.length).toBe(r.received);
    for (const s of r.scored) {
      expect(s.evaluation!.fallback).toBe("maxTokens");
      expect(s.coherence.method).toBe("fallback");
      expect(s.question.method).toBe("fallback");
      if (s.hallucination !== null) expect(s.hallucination).toMatchObject({ method: "fallback", detail: expect.stringMatching(/^the model's answer fell back \(maxTokens\)/) });
    }
  }, 240_000);

  it("a timeout too small for any answer: every input falls back (timeout recorded) and the night completes", async () => {
    const inner = salienceModelOn(models.lm, models.embedder, { ...ANSWER, timeoutMs: 1 });
    const r = await night("timeout", inner);
    expect(new Set(r.decided).size).toBe(r.received);
    expect(r.unmeasurable).toEqual([]);
    expect(r.scored.length).toBe(r.received);
    for (const s of r.scored) {
      expect(s.evaluation!.fallback).toBe("timeout");
      expect(s.coherence.method).toBe("fallback");
    }
  }, 240_000);
});
