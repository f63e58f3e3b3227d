import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActorHost } from "../../../actors/host.ts";
import { soulDecider } from "../../../actors/soul/soul.decider.ts";
import { ForgetReactor } from "../../../actors/soul/forget.reactor.ts";
import { SalienceWorker } from "../../../actors/salience/worker.ts";
import { ingestFiles } from "../../../adapters/ingest/ingest.ts";
import { useTestLog } from "../../support/nats.ts";
import { collect } from "../../support/events.ts";
import { openTinySalience } from "../../support/models.ts";
import { corpusLines } from "../../adapters/llm/support.ts";

const log = useTestLog();
let models: Awaited<ReturnType<typeof openTinySalience>>;

beforeAll(async () => {
  models = await openTinySalience();
}, 180_000);
afterAll(async () => {
  await models?.close();
});

const waitUntil = async (pred: () => boolean | Promise<boolean>, ms: number) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("timed out");
};

const received = async () => (await collect(log.store.read({ types: new Set(["InputReceived"]) }))).map((e) => e.data as { inputId: string; contentSha256: string });

describe("inputs a night cannot judge", () => {
  it("decides a forgotten pending input as forgotten and one whose text is missing with that reason; this night and the next complete", async () => {
    const { store, content } = log;
    const text = corpusLines("heldout", "astronomy").slice(0, 4).join("\n\n");
    await ingestFiles({ store, content }, [{ path: "day1.txt", bytes: Buffer.from(text) }], { day: "2026-11-25", maxBytes: 10_000, correlationId: "d1" });
    const [forgotten, missing] = await received();
    const soul = new ActorHost(store, soulDecider);
    const reactor = new ForgetReactor(store, content);
    const salience = new SalienceWorker(store, content, models.model, { batchSize: 2 });
    await soul.start();
    await reactor.start();
    // Forgotten before any night judged it (it used to stop Salience on MissingContentError, every night after).
    await soul.command({ id: "forget-1", actor: "person", command: { type: "ForgetInput", inputId: forgotten!.inputId, reason: "privacy" } });
    await waitUntil(async () => !(await content.has(forgotten!.contentSha256)), 10_000);
    // A text gone from the content store with nothing in the log to say why.
    await content.delete(missing!.contentSha256);
    await salience.start();
    await soul.command({ id: "night-1", actor: "cli", command: { type: "StartNight", day: "2026-11-25", trigger: "cli" } });
    await waitUntil(() => soul.current().nights["2026-11-25"]?.completed === true, 120_000);

    const dropped = await collect(store.read({ types: new Set(["InputDropped"]) }));
    const byInput = new Map(dropped.map((e) => [(e.data as { inputId: string }).inputId, e.data as { cause: string; detail: string; nightId: string }]));
    expect(byInput.get(forgotten!.inputId)).toMatchObject({ cause: "forgotten", nightId: "2026-11-25" });
    expect(byInput.get(missing!.inputId)).toMatchObject({ cause: "missing-content", detail: expect.stringMatching(/not in the content store/) });
    const [completed] = await collect(store.read({ types: new Set(["NightCompleted"]) }));
    const counts = (completed!.data as { counts: Record<string, number> }).counts;
    expect(counts.dropped).toBe(2);
    expect(counts.accepted! + counts.rejected! + counts.shadow!).toBe(2);

    // The next day's night is not held up by any of it.
    await ingestFiles({ store, content }, [{ path: "day2.txt", bytes: Buffer.from(corpusLines("heldout", "astronomy")[10]!) }], { day: "2026-11-26", maxBytes: 10_000, correlationId: "d2" });
    await soul.command({ id: "night-2", actor: "cli", command: { type: "StartNight", day: "2026-11-26", trigger: "cli" } });
    await waitUntil(() => soul.current().nights["2026-11-26"]?.completed === true, 120_000);
    await salience.stop();
    await reactor.stop();
    await soul.stop();
  }, 300_000);
});
