import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActorHost } from "../../../actors/host.ts";
import type { SalienceModel } from "../../../actors/salience/ports.ts";
import { SalienceWorker } from "../../../actors/salience/worker.ts";
import { soulDecider } from "../../../actors/soul/soul.decider.ts";
import { ingestFiles } from "../../../adapters/ingest/ingest.ts";
import { parseQuestions, seedPreoccupation } from "../../../adapters/ingest/preoccupation.ts";
import { corpusLines } from "../../adapters/llm/support.ts";
import { openTinySalience } from "../../support/models.ts";
import { useTestLog } from "../../support/nats.ts";
import { waitUntil } from "../../support/night-actors.ts";

const log = useTestLog();
let models: Awaited<ReturnType<typeof openTinySalience>>;
beforeAll(async () => void (models = await openTinySalience()), 180_000);
afterAll(async () => void (await models?.close()));

describe("stopping Salience", () => {
  it("waits for the model call under way and makes none after, so the models may be disposed once stop() returns", async () => {
    const { store, content } = log;
    await seedPreoccupation(store, models.model, parseQuestions("How do planets move around a star?").questions, "seed");
    await ingestFiles({ store, content }, [{ path: "day.txt", bytes: Buffer.from(corpusLines("heldout", "astronomy").slice(0, 6).join("\n\n")) }], { day: "2026-11-26", maxBytes: 10_000, correlationId: "d" });
    // The real tiny models, held in their first call until the test lets go, as a slow model would be.
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    let calls = 0, running = 0, afterStop = 0, stopped = false;
    const slow: SalienceModel = {
      ...models.model,
      measure: async (items) => {
        calls++;
        if (stopped) afterStop++;
        running++;
        try {
          await held;
          return await models.model.measure(items);
        } finally {
          running--;
        }
      },
    };
    const soul = new ActorHost(store, soulDecider);
    await soul.start();
    const salience = new SalienceWorker(store, content, slow, { batchSize: 2 });
    await salience.start();
    await soul.command({ id: "start", actor: "test", command: { type: "StartNight", day: "2026-11-26", trigger: "cli" } });
    await waitUntil(async () => running > 0, 30_000, "a model call under way");
    let returned = false;
    const stopping = salience.stop().then(() => void (returned = true));
    stopped = true;
    await new Promise((r) => setTimeout(r, 300));
    expect(returned, "stop() returned while a model call was under way").toBe(false);
    release();
    await stopping;
    expect(running).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    expect(afterStop, "model calls after stop()").toBe(0);
    expect(calls).toBe(1);
    await soul.stop();
  }, 120_000);
});
