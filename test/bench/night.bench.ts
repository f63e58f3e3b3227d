// A night over N short texts on the default English models and the default policy: wall time split into model time (the SalienceModel's
// measure calls) and everything else (reading the log, the content store, deciding, appending).
// Target: everything else <= 10% of the wall time; peak memory must not grow with N beyond the batch.
// The actors start and take in the day before the clock starts, as under `sophont up`.
// Each N runs in a child process with a server of its own, so its peak RSS is its own.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ActorHost } from "../../actors/host.ts";
import { soulDecider } from "../../actors/soul/soul.decider.ts";
import { SalienceWorker } from "../../actors/salience/worker.ts";
import type { SalienceModel } from "../../actors/salience/ports.ts";
import { JetStreamEventStore } from "../../adapters/nats/event-store.ts";
import { connectNats } from "../../adapters/nats/connection.ts";
import { ObjectContentStore } from "../../adapters/nats/content-store.ts";
import { ingestFiles } from "../../adapters/ingest/ingest.ts";
import { parseQuestions, seedPreoccupation } from "../../adapters/ingest/preoccupation.ts";
import { benchNats } from "./support/nats.ts";
import { peakRssMiB, writeBenchResult } from "./support/result.ts";
import { openEnglishSalience } from "../support/models.ts";
import { corpusLines, TOPICS } from "../adapters/llm/support.ts";

/** The day's inputs and the domain's questions, appended by the parent: the child measures only the night. */
const prepare = async (n: number) => {
  const server = await benchNats();
  const store = new JetStreamEventStore(server.nc);
  const content = new ObjectContentStore(server.nc);
  const models = await openEnglishSalience();
  await seedPreoccupation(store, models.model, parseQuestions("How do planets move in their orbits?\nWhat does a telescope show of distant galaxies?").questions, "bench");
  await models.close();
  const lines = TOPICS.flatMap((t) => [...corpusLines("train", t), ...corpusLines("heldout", t)]);
  const texts = Array.from({ length: n }, (_, i) => `${lines[i % lines.length]} ${lines[(i * 7919 + 13) % lines.length]}`);
  await ingestFiles({ store, content, }, [{ path: "day.log", bytes: Buffer.from(texts.join("\n")) }], { day: "2026-11-24", maxBytes: 10_000, correlationId: "bench" });
  store.close();
  return { url: `nats://127.0.0.1:${server.nc.info!.port}`, stop: server.stop };
};

/** The night alone, in a process of its own: Soul and Salience from StartNight to NightCompleted. */
const child = async (url: string, n: number) => {
  const nc = await connectNats({ url, user: "soul", pass: "pwbench" });
  const store = new JetStreamEventStore(nc);
  const content = new ObjectContentStore(nc);
  const models = await openEnglishSalience();
  let modelMs = 0;
  const timed: SalienceModel = {
    ...models.model,
    measure: async (items) => {
      const t = performance.now();
      try {
        return await models.model.measure(items);
      } finally {
        modelMs += performance.now() - t;
      }
    },
  };
  const soul = new ActorHost(store, soulDecider);
  await soul.start();
  const salience = new SalienceWorker(store, content, timed, { batchSize: 64 });
  await salience.start();
  // The actors have taken in the day (as under `sophont up`, where they follow the log all day): the
  // clock runs from StartNight to NightCompleted.
  const last = await store.lastSeq();
  while (soul.position() < last) await new Promise((r) => setTimeout(r, 20));
  const rssBefore = peakRssMiB();
  const t0 = performance.now();
  await soul.command({ id: "bench-night", actor: "bench", command: { type: "StartNight", day: "2026-11-24", trigger: "cli" } });
  while (soul.current().nights["2026-11-24"]?.completed !== true) await new Promise((r) => setTimeout(r, 20));
  const wallMs = performance.now() - t0;
  // What the night keeps, once garbage is collected: the per-input state of Soul and Salience.
  (globalThis as { gc?: () => void }).gc?.();
  const retainedHeapMiB = Math.round(process.memoryUsage().heapUsed / 2 ** 20);
  console.log(JSON.stringify({ n, wallMs, modelMs, otherMs: wallMs - modelMs, peakRssMiB: peakRssMiB(), rssBeforeNightMiB: rssBefore, retainedHeapMiB }));
  await salience.stop();
  await soul.stop();
  await models.close();
  store.close();
  await nc.close();
};

if (process.argv[2] === "child") {
  await child(process.argv[3]!, Number(process.argv[4]));
} else {
  const sizes = (process.env.BENCH_NIGHT_SIZES ?? "1000,10000").split(",").map(Number);
  const runs = [];
  for (const n of sizes) {
    const server = await prepare(n);
    const out = execFileSync(process.execPath, ["--import", "tsx", "--expose-gc", fileURLToPath(import.meta.url), "child", server.url, String(n)], { encoding: "utf8", maxBuffer: 1 << 26 });
    await server.stop();
    const r = JSON.parse(out.trim().split("\n").pop()!) as { n: number; wallMs: number; modelMs: number; otherMs: number; peakRssMiB: number; rssBeforeNightMiB: number; retainedHeapMiB: number };
    console.log(`  ${n} inputs: wall ${(r.wallMs / 1000).toFixed(1)} s, model ${(r.modelMs / 1000).toFixed(1)} s, other ${(r.otherMs / 1000).toFixed(1)} s, peak ${r.peakRssMiB} MiB (${r.rssBeforeNightMiB} MiB before the night), heap kept after the night ${r.retainedHeapMiB} MiB`);
    runs.push(r);
  }
  const worst = Math.max(...runs.map((r) => r.otherMs / r.wallMs));
  writeBenchResult({
    name: "night",
    ratio: worst,
    target: 0.1,
    better: "lower",
    figures: { runs },
    summary: `share of a night's wall time outside the model (default English models, default policy), worst of ${sizes.join(" / ")} inputs: ${runs.map((r) => `${r.n}: ${((100 * r.otherMs) / r.wallMs).toFixed(0)}% of ${(r.wallMs / 1000).toFixed(1)} s, peak RSS ${r.peakRssMiB} MiB, heap kept ${r.retainedHeapMiB} MiB`).join("; ")} (the night's own process)`,
  });
}
