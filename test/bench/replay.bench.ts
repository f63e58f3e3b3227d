// Replay into all projections as a ratio of a raw ordered-consumer read of the same stream, at 100k
// and 1M events, each measured in a child process of its own so its peak RSS is its own.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { jetstream, DeliverPolicy } from "@nats-io/jetstream";
import { connectNats } from "../../adapters/nats/connection.ts";
import { JetStreamEventStore } from "../../adapters/nats/event-store.ts";
import { MemoryCheckpointStore } from "../../adapters/nats/checkpoints.ts";
import { ProjectionRunner } from "../../projections/runner.ts";
import { allProjections } from "../../projections/index.ts";
import { EVENT_STREAM } from "../../events/subjects.ts";
import type { Pending } from "../../events/store.ts";
import { benchNats } from "./support/nats.ts";
import { peakRssMiB, writeBenchResult } from "./support/result.ts";

const child = async (url: string, mode: "raw" | "ours", n: number) => {
  const nc = await connectNats({ url, user: "soul", pass: "pwbench" });
  const t0 = performance.now();
  if (mode === "raw") {
    const c = await jetstream(nc).consumers.get(EVENT_STREAM, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: 1 });
    const msgs = await c.consume({ max_messages: 2048 });
    let count = 0;
    for await (const m of msgs) if (++count >= n || m.seq >= n) break;
    await msgs.close();
  } else {
    const runner = new ProjectionRunner(new JetStreamEventStore(nc), new MemoryCheckpointStore(), allProjections, { checkpointEvery: 50_000 });
    await runner.catchUp();
  }
  const seconds = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ eventsPerSec: n / seconds, seconds, peakRssMiB: peakRssMiB() }));
  await nc.close();
};

const event = (i: number): Pending => {
  const day = `2026-11-${String(1 + (Math.floor(i / 5000) % 28)).padStart(2, "0")}`;
  const ev: Pending["event"] =
    i % 5000 === 0
      ? { type: "NightStarted", data: { nightId: `n${i}`, day, trigger: "schedule", untilSeq: i } }
      : { type: "InputReceived", data: { inputId: `in-${i}`, day, source: { path: "/var/log/app.log", format: "log", index: i }, bytes: 200, contentSha256: `${i}`.padStart(64, "0") } };
  return { event: ev, metadata: { id: `ev-${i}`, time: "2026-11-25T02:00:00.000Z", actor: "bench", causationId: null, correlationId: "bench" } };
};

const measure = (url: string, mode: string, n: number) =>
  JSON.parse(
    execFileSync(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "child", url, mode, String(n)], { encoding: "utf8" }).trim().split("\n").pop()!,
  ) as { eventsPerSec: number; seconds: number; peakRssMiB: number };

if (process.argv[2] === "child") {
  await child(process.argv[3]!, process.argv[4] as "raw" | "ours", Number(process.argv[5]));
} else {
  const sizes = (process.env.BENCH_REPLAY_SIZES ?? "100000,1000000").split(",").map(Number);
  const figures: Record<string, unknown> = {};
  const ratios: number[] = [];
  for (const n of sizes) {
    const { nc, stop } = await benchNats();
    const store = new JetStreamEventStore(nc);
    const t0 = performance.now();
    for (let b = 0; b < n; b += 5000) await store.append(Array.from({ length: Math.min(5000, n - b) }, (_, k) => event(b + k + 1)));
    console.log(`  ${n} events appended in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const url = `nats://127.0.0.1:${nc.info!.port}`;
    const raw = measure(url, "raw", n);
    const ours = measure(url, "ours", n);
    figures[String(n)] = { raw, ours };
    ratios.push(ours.eventsPerSec / raw.eventsPerSec);
    console.log(`  ${n}: ours ${Math.round(ours.eventsPerSec)} ev/s (peak ${ours.peakRssMiB} MiB) vs raw ${Math.round(raw.eventsPerSec)} ev/s (peak ${raw.peakRssMiB} MiB)`);
    store.close();
    await stop();
  }
  const worst = Math.min(...ratios);
  writeBenchResult({
    name: "replay",
    ratio: worst,
    target: 0.7,
    better: "higher",
    figures: { sizes, ratios, ...figures },
    summary: `replay into all projections vs raw ordered consumer, worst of ${sizes.join(" / ")} events: ${sizes.map((n, i) => `${n}: ${ratios[i]!.toFixed(2)} (peak ${(figures[String(n)] as { ours: { peakRssMiB: number } }).ours.peakRssMiB} MiB)`).join(", ")}`,
  });
}
