import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActorHost } from "../../../actors/host.ts";
import { soulDecider } from "../../../actors/soul/soul.decider.ts";
import { SalienceWorker } from "../../../actors/salience/worker.ts";
import { JetStreamEventStore } from "../../../adapters/nats/event-store.ts";
import { ObjectContentStore } from "../../../adapters/nats/content-store.ts";
import { ingestFiles } from "../../../adapters/ingest/ingest.ts";
import { parseQuestions, seedPreoccupation } from "../../../adapters/ingest/preoccupation.ts";
import { readInput } from "../../../adapters/ingest/known.ts";
import { ledgers } from "../../../projections/ledgers.projection.ts";
import { projectAt, ProjectionRunner } from "../../../projections/runner.ts";
import { MemoryCheckpointStore } from "../../../adapters/nats/checkpoints.ts";
import { startTestNats, type TestNats } from "../../support/nats.ts";
import { collect } from "../../support/events.ts";
import { openTinySalience } from "../../support/models.ts";
import { corpusLines, randomText } from "../../adapters/llm/support.ts";
import { verifyDecisions } from "../../../actors/salience/verify.ts";
import { defaultPolicy } from "../../../actors/salience/salience.policy.ts";

let nats: TestNats;
let store: JetStreamEventStore;
let content: ObjectContentStore;
let models: Awaited<ReturnType<typeof openTinySalience>>;

const DOMAIN_QUESTIONS = [
  "How do planets move in their orbits around a star?",
  "What can a telescope show us about distant galaxies and nebulae?",
  "Why does a comet's brightness change near the sun?",
  "How do astronomers measure the luminosity of a star?",
].join("\n");

const lines = (topic: string, n: number) => corpusLines("heldout", topic).slice(0, n).join("\n");
const outputs = [
  { prompt: "Tell me about comets.", text: corpusLines("heldout", "astronomy")[40], corrected: corpusLines("heldout", "astronomy")[41] },
  { prompt: "Tell me about stars.", text: corpusLines("heldout", "astronomy")[42] },
].map((r) => JSON.stringify(r)).join("\n");
const garbage = Array.from({ length: 4 }, (_, i) => randomText(80, 100 + i)).join("\n");

beforeAll(async () => {
  nats = await startTestNats();
  const nc = await nats.connect();
  store = new JetStreamEventStore(nc);
  content = new ObjectContentStore(nc);
  models = await openTinySalience();
  await seedPreoccupation(store, models.model, parseQuestions(DOMAIN_QUESTIONS).questions, "seed");
  const files = [
    { path: "astronomy.log", bytes: Buffer.from(lines("astronomy", 12)) },
    { path: "cooking.log", bytes: Buffer.from(lines("cooking", 8)) },
    { path: "noise.log", bytes: Buffer.from(garbage) },
    // The model's own outputs: one a person corrected (a DPO negative), one nobody objected to.
    { path: "outputs.jsonl", bytes: Buffer.from(outputs) },
    // Garbage that is not text at all is refused at the door.
    { path: "core.bin", bytes: new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0, 0, 1, 2]) },
    { path: "empty.txt", bytes: Buffer.from("  \n\n") },
  ];
  await ingestFiles({ store, content }, files, { day: "2026-11-24", maxBytes: 10_000, correlationId: "day1" });
}, 180_000);

afterAll(async () => {
  await models?.close();
  store?.close();
  await nats?.stop();
});

const decisions = async () =>
  (await collect(store.read({ types: new Set(["InputAccepted", "InputRejected", "ShadowRecorded"]) }))).map((e) => ({
    type: e.type,
    inputId: (e.data as { inputId: string }).inputId,
    cause: e.type === "InputRejected" ? e.data.cause : undefined,
    data: e.data,
  }));

const waitUntil = async (pred: () => Promise<boolean>, ms: number) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("timed out");
};

describe("a night of Salience on the tiny models", () => {
  it("decides every input exactly once even when Salience dies halfway, and the Soul closes the night", async () => {
    const soul = new ActorHost(store, soulDecider);
    await soul.start();
    // The first Salience dies during its second batch (its model never answers): NightStarted is never acked.
    // (The night's sample of itself, measured as the yardstick when the night loads, is not a batch.)
    let batches = 0;
    let calls = 0;
    const dying = { ...models.model, measure: (items: Parameters<typeof models.model.measure>[0]) => (!items.some((i) => i.reference) && ++calls >= 2 ? new Promise<never>(() => undefined) : models.model.measure(items)) };
    const first = new SalienceWorker(store, content, dying, { batchSize: 4, ackWaitMs: 2000, onEvent: (e) => e.type === "progress" && batches++ });
    await first.start();
    await soul.command({ id: "start-1", actor: "test", command: { type: "StartNight", day: "2026-11-24", trigger: "cli" } });
    await waitUntil(async () => batches >= 1, 60_000);
    await first.stop();
    const halfway = (await decisions()).length;
    expect(halfway).toBe(4);

    const second = new SalienceWorker(store, content, models.model, { batchSize: 8, ackWaitMs: 2000 });
    await second.start();
    await waitUntil(async () => soul.current().nights["2026-11-24"]?.completed === true, 120_000);
    await second.stop();
    await soul.stop();

    const all = await decisions();
    const ids = all.map((d) => d.inputId);
    expect(new Set(ids).size).toBe(ids.length); // no duplicates
    expect(ids).toHaveLength(26); // no gaps: 12 + 8 + 4 + 2 inputs
    const completed = (await collect(store.read({ types: new Set(["NightCompleted"]) })))[0]!;
    // The counts of the night (stated): 13 accepted (12 astronomy + 1 output), 12 rejected (8 cooking, 4 noise),
    // 1 shadow (the corrected output), 2 refused at ingest (binary, empty).
    expect(completed.data).toMatchObject({ counts: { accepted: 13, rejected: 12, shadow: 1, refused: 2 } });
  }, 300_000);

  it("accepts the domain, rejects the other topic to the Antechamber and the noise as incoherent", async () => {
    const paths = new Map<string, string>();
    for (const d of await decisions()) paths.set(d.inputId, (await readInput(store, d.inputId))!.sources[0]!.split("#")[0]!);
    const pathOf = (id: string) => paths.get(id);
    const byFile = new Map<string, string[]>();
    for (const d of await decisions()) {
      const key = `${pathOf(d.inputId)}:${d.type}${d.cause ? `/${d.cause}` : ""}`;
      byFile.set(key, [...(byFile.get(key) ?? []), d.inputId]);
    }
    const count = (k: string) => byFile.get(k)?.length ?? 0;
    const summary = Object.fromEntries([...byFile.entries()].map(([k, v]) => [k, v.length]));
    expect(count("astronomy.log:InputAccepted"), JSON.stringify(summary)).toBe(12);
    expect(count("cooking.log:InputRejected/off-topic"), JSON.stringify(summary)).toBe(8);
    expect(count("noise.log:InputRejected/incoherent"), JSON.stringify(summary)).toBe(4);
    expect(count("outputs.jsonl:ShadowRecorded"), JSON.stringify(summary)).toBe(1);
    expect(count("outputs.jsonl:InputAccepted"), JSON.stringify(summary)).toBe(1);
    const refusals = await collect(store.read({ types: new Set(["InputRefused"]) }));
    expect(refusals.map((r) => (r.type === "InputRefused" ? r.data.reason : "")).sort()).toEqual(["binary", "empty"]);
  });

  it("records in every decision the thresholds and hashes that explain it", async () => {
    const ids = models.model.ids();
    for (const d of await decisions()) {
      const data = d.data as { policy: { version: string; acceptSimilarity: number }; models: { model: string; embedder: string }; reason: string };
      expect(data.policy.version).toMatch(/^salience-/);
      expect(typeof data.policy.acceptSimilarity).toBe("number");
      expect(data.models.model).toBe(ids.model);
      expect(data.models.embedder).toBe(ids.embedder);
      expect(data.reason.length).toBeGreaterThan(10);
    }
    const scored = await collect(store.read({ types: new Set(["InputScored"]) }));
    expect(scored.length).toBeGreaterThanOrEqual(24);
    expect(scored[0]!.data).toMatchObject({ models: { model: ids.model }, question: { method: "fallback" } });
  });

  it("rebuilds ledgers from sequence 1 identical to the live ones", async () => {
    const live = new ProjectionRunner(store, new MemoryCheckpointStore(), [ledgers], { checkpointEvery: 5 });
    await live.catchUp();
    const rebuilt = await projectAt(store, ledgers, "now");
    expect(ledgers.toJSON!(rebuilt)).toEqual(ledgers.toJSON!(live.state("ledgers")));
    expect(rebuilt.sft.size).toBe(13);
    expect(rebuilt.shadow.size).toBe(1);
  });

  it("verifies on replay: nothing differs on the unchanged log; a stricter threshold names the decisions it changes", async () => {
    const deps = { store, content, model: models.model };
    const same = await verifyDecisions(deps, defaultPolicy);
    expect(same.checked).toBe(26);
    expect(same.findings).toEqual([]);
    // The default judges topic in robust spreads from its references: asking for 3 above their median turns most acceptances away.
    const strict = await verifyDecisions(deps, { ...defaultPolicy, version: "salience-strict", calibrated: { ...defaultPolicy.calibrated!, minTopic: 3 } });
    expect(strict.findings.length).toBeGreaterThanOrEqual(10);
    expect(strict.findings.every((f) => f.why === "policy" && f.recorded === "InputAccepted" && f.now === "InputRejected/off-topic")).toBe(true);
    expect(strict.findings[0]!.detail).toMatch(/calibrated \{.*"minTopic":-2.*\} -> \{.*"minTopic":3/);
  });
});
