import { Effect } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActorHost } from "../../../actors/host.ts";
import { soulDecider } from "../../../actors/soul/soul.decider.ts";
import { SalienceWorker } from "../../../actors/salience/worker.ts";
import type { SalienceModel } from "../../../actors/salience/ports.ts";
import { ingestFiles } from "../../../adapters/ingest/ingest.ts";
import { parseQuestions, seedPreoccupation } from "../../../adapters/ingest/preoccupation.ts";
import { inputIdOf } from "../../../adapters/ingest/parse.ts";
import { useTestLog } from "../../support/nats.ts";
import { collect } from "../../support/events.ts";
import { openTinySalience } from "../../support/models.ts";
import { corpusLines } from "../../adapters/llm/support.ts";

const log = useTestLog();
let models: Awaited<ReturnType<typeof openTinySalience>>;

const DAY = "2026-11-30";
const words = corpusLines("heldout", "astronomy").join(" ").split(/\s+/);
/** About n tokens of real sentences from the held-out astronomy split (the tiny LM's tokens are words and marks). */
const textOf = (n: number) => Array.from({ length: n }, (_, i) => words[i % words.length]).join(" ");
const SIZES = [1, 2, 30, 509, 510, 511, 512, 513, 1500, 2047, 2048, 2049, 6000, 20_000];
/** The one input the models fail on (a stand-in fault: the real models, but measure throws when it is in the batch). */
const POISON = "The poisoned sentence that the models choke on, every time.";

beforeAll(async () => {
  models = await openTinySalience();
  await seedPreoccupation(log.store, models.model, parseQuestions("How do planets move around a star?\nWhat does a telescope show of distant galaxies?").questions, "seed");
  const lines = [...SIZES.map(textOf), POISON].join("\n");
  await ingestFiles({ store: log.store, content: log.content }, [{ path: "long.log", bytes: Buffer.from(lines) }], { day: DAY, maxBytes: 1_000_000, correlationId: "long" });
}, 180_000);

afterAll(async () => {
  await models?.close();
});

describe("a night never dies of one input", () => {
  it("decides texts from 1 to 20,000 tokens in one night, and rejects the one the models fail on as unmeasurable", async () => {
    const tokens = await Promise.all(SIZES.map((n) => Effect.runPromise(models.lm.tokenize(textOf(n)))));
    expect(Math.min(...tokens.map((t) => t.length))).toBeLessThanOrEqual(2);
    expect(Math.max(...tokens.map((t) => t.length))).toBeGreaterThanOrEqual(20_000);

    const real = models.model;
    let batchFailures = 0;
    const faulty: SalienceModel = {
      ...real,
      measure: async (items) => {
        if (items.some((i) => i.text === POISON)) {
          batchFailures++;
          throw new Error("model failure on this input");
        }
        return real.measure(items);
      },
    };
    const soul = new ActorHost(log.store, soulDecider);
    await soul.start();
    let failed: string | undefined;
    const salience = new SalienceWorker(log.store, log.content, faulty, { batchSize: 8, onEvent: (e) => e.type === "failed" && (failed = e.error) });
    await salience.start();
    await soul.command({ id: "start", actor: "test", command: { type: "StartNight", day: DAY, trigger: "cli" } });
    const end = Date.now() + 240_000;
    while (soul.current().nights[DAY]?.completed !== true && failed === undefined && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
    await salience.stop();
    await soul.stop();
    expect(failed).toBeUndefined();

    const decisions = await collect(log.store.read({ types: new Set(["InputAccepted", "InputRejected", "ShadowRecorded"]) }));
    const ids = decisions.map((d) => (d.data as { inputId: string }).inputId);
    expect(ids).toHaveLength(SIZES.length + 1);
    expect(new Set(ids).size).toBe(ids.length);
    const poison = decisions.find((d) => (d.data as { inputId: string }).inputId === inputIdOf(POISON))!;
    expect(poison.type).toBe("InputRejected");
    expect(poison.data).toMatchObject({ cause: "unmeasurable", reason: expect.stringMatching(/model failure on this input/) });
    // Every other input was measured: scored, with its tokens counted, and none unmeasurable.
    expect(decisions.filter((d) => d.type === "InputRejected" && d.data.cause === "unmeasurable")).toHaveLength(1);
    const scored = await collect(log.store.read({ types: new Set(["InputScored"]) }));
    expect(scored).toHaveLength(SIZES.length);
    const counts = scored.map((s) => (s.type === "InputScored" ? s.data.tokenCount : 0));
    expect(Math.max(...counts)).toBeGreaterThanOrEqual(19_000);
    for (const s of scored) if (s.type === "InputScored") expect(s.data.question.vector.some((x) => x !== 0)).toBe(true);
    expect(batchFailures).toBeGreaterThanOrEqual(1);
    const completed = (await collect(log.store.read({ types: new Set(["NightCompleted"]) })))[0]!;
    expect(completed.data).toMatchObject({ nightId: DAY, counts: { rejected: expect.any(Number) } });
  }, 300_000);

  it("resumes an open night from the log when Salience starts (as under `sophont up`), without waiting for a redelivery", async () => {
    const day = "2026-12-01";
    await ingestFiles({ store: log.store, content: log.content }, [{ path: "next.log", bytes: Buffer.from([3, 40, 700].map(textOf).map((t, i) => `${i}: ${t}`).join("\n")) }], { day, maxBytes: 1_000_000, correlationId: "next" });
    const soul = new ActorHost(log.store, soulDecider);
    await soul.start();
    // The first Salience hangs on its first batch and is stopped: its NightStarted stays unacked for ten minutes.
    const hung = new SalienceWorker(log.store, log.content, { ...models.model, measure: () => new Promise<never>(() => undefined) }, { batchSize: 2, ackWaitMs: 600_000 });
    await hung.start();
    await soul.command({ id: "start-2", actor: "test", command: { type: "StartNight", day, trigger: "cli" } });
    await new Promise((r) => setTimeout(r, 1000));
    await hung.stop();
    expect(soul.current().nights[day]?.completed).toBe(false);
    const next = new SalienceWorker(log.store, log.content, models.model, { batchSize: 2, ackWaitMs: 600_000 });
    await next.start();
    const end = Date.now() + 60_000;
    while (soul.current().nights[day]?.completed !== true && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    await next.stop();
    await soul.stop();
    expect(soul.current().nights[day]?.completed).toBe(true);
    const decided = (await collect(log.store.read({ types: new Set(["InputAccepted", "InputRejected", "ShadowRecorded"]) }))).filter((d) => (d.data as { nightId: string }).nightId === day);
    expect(decided).toHaveLength(3);
  }, 120_000);
});
