// Replay into all projections as a ratio of a raw ordered-consumer read of the same stream, at 100k
// and 1M events. Each pass runs in a child process of its own, so its peak RSS is its own, and the
// passes alternate (raw, ours, raw, ours, ...) so a busy neighbour weighs on both alike; the best of
// each is kept.
//
// "ours" is what `sophont replay` does: the event store as the CLI opens it (an ordered pull on core
// NATS, adapters/nats/ordered-pull.ts), every event decoded and checked against its schema, folded
// into every projection the runner keeps, checkpoints written to the KV bucket. "raw" reads the same
// messages with the client's ordered consumer and touches nothing but their sequence. The same raw
// read with a callback instead of an iterator is reported beside it. The log is what ingest writes:
// InputReceived events with sha256 input ids and derived event ids, and a NightStarted every 5000.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { jetstream, DeliverPolicy } from "@nats-io/jetstream";
import { derivedEventId } from "../../actors/ids.ts";
import { inputIdOf } from "../../adapters/ingest/parse.ts";
import { connectNats } from "../../adapters/nats/connection.ts";
import { JetStreamEventStore } from "../../adapters/nats/event-store.ts";
import { KvCheckpointStore } from "../../adapters/nats/checkpoints.ts";
import { ProjectionRunner } from "../../projections/runner.ts";
import { allProjections } from "../../projections/index.ts";
import { EVENT_STREAM } from "../../events/subjects.ts";
import type { Pending } from "../../events/store.ts";
import { benchNats } from "./support/nats.ts";
import { peakRssMiB, writeBenchResult } from "./support/result.ts";

type Mode = "raw" | "raw-callback" | "ours";
interface Pass { eventsPerSec: number; seconds: number; peakRssMiB: number; heapAfterGcMiB: number }

/** What is still held once the garbage is collected: the replay's own footprint. */
const heapAfterGc = (): number => {
  (globalThis as { gc?: () => void }).gc?.();
  return Math.round(process.memoryUsage().heapUsed / 2 ** 20);
};

const child = async (url: string, mode: Mode, n: number) => {
  const auth = { url, user: "soul", pass: "pwbench", name: "bench-replay" };
  const nc = await connectNats(auth);
  const t0 = performance.now();
  if (mode === "raw") {
    const c = await jetstream(nc).consumers.get(EVENT_STREAM, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: 1 });
    const msgs = await c.consume({ max_messages: 2048 });
    let count = 0;
    for await (const m of msgs) if (++count >= n || m.seq >= n) break;
    await msgs.close();
  } else if (mode === "raw-callback") {
    const c = await jetstream(nc).consumers.get(EVENT_STREAM, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: 1 });
    let count = 0;
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const msgs = await c.consume({ max_messages: 2048, callback: (m) => void ((++count >= n || m.seq >= n) && done()) });
    await finished;
    await msgs.close();
  } else {
    const store = new JetStreamEventStore(nc);
    const runner = new ProjectionRunner(store, new KvCheckpointStore(nc), allProjections);
    await runner.reset(); // from sequence 1, every time
    const t1 = performance.now();
    await runner.catchUp();
    const seconds = (performance.now() - t1) / 1000;
    console.log(JSON.stringify({ eventsPerSec: n / seconds, seconds, peakRssMiB: peakRssMiB(), heapAfterGcMiB: heapAfterGc() }));
    store.close();
    await nc.close();
    return;
  }
  const seconds = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ eventsPerSec: n / seconds, seconds, peakRssMiB: peakRssMiB(), heapAfterGcMiB: heapAfterGc() }));
  await nc.close();
};

/**
 * A log as `sophont ingest` and the Soul write it: inputs named by the sha256 of their text, event ids
 * derived from their cause, one correlation id per ingest run of 5000 lines, and a night between runs.
 */
const event = (i: number): Pending => {
  const day = `2026-11-${String(1 + (Math.floor(i / 5000) % 28)).padStart(2, "0")}`;
  const correlationId = derivedEventId("cli", `ingest-${Math.floor(i / 5000)}`, 0);
  const time = new Date(Date.UTC(2026, 10, 1) + i * 50).toISOString();
  if (i % 5000 === 0) {
    return { event: { type: "NightStarted", data: { nightId: `night-${day}`, day, trigger: "schedule", untilSeq: i } }, metadata: { id: derivedEventId("soul", `night-${i}`, 0), time, actor: "soul", causationId: null, correlationId } };
  }
  const inputId = inputIdOf(`line ${i} of the day's log`);
  return {
    event: { type: "InputReceived", data: { inputId, day, source: { path: "/var/log/app.log", format: "log", index: i % 5000 }, bytes: 120 + (i % 200), contentSha256: inputId } },
    metadata: { id: derivedEventId("ingest", `received:${inputId}`, 0), time, actor: "ingest", causationId: null, correlationId },
  };
};

const measure = (url: string, mode: Mode, n: number): Pass =>
  JSON.parse(
    execFileSync(process.execPath, ["--import", "tsx", "--expose-gc", fileURLToPath(import.meta.url), "child", url, mode, String(n)], { encoding: "utf8" }).trim().split("\n").pop()!,
  ) as Pass;

const fastest = (passes: Pass[]): Pass => passes.reduce((a, b) => (b.eventsPerSec > a.eventsPerSec ? b : a));

if (process.argv[2] === "child") {
  await child(process.argv[3]!, process.argv[4] as Mode, Number(process.argv[5]));
} else {
  const sizes = (process.env.BENCH_REPLAY_SIZES ?? "100000,1000000").split(",").map(Number);
  const rounds = Number(process.env.BENCH_REPLAY_ROUNDS ?? 5);
  const figures: Record<string, unknown> = {};
  const ratios: number[] = [];
  for (const n of sizes) {
    const { nc, stop } = await benchNats();
    const store = new JetStreamEventStore(nc);
    const t0 = performance.now();
    for (let b = 0; b < n; b += 5000) await store.append(Array.from({ length: Math.min(5000, n - b) }, (_, k) => event(b + k + 1)));
    console.log(`  ${n} events appended in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const url = `nats://127.0.0.1:${nc.info!.port}`;
    const passes: Record<Mode, Pass[]> = { raw: [], "raw-callback": [], ours: [] };
    const modes: Mode[] = ["raw", "ours", "raw-callback"];
    for (let r = 0; r < rounds; r++) for (const mode of modes) passes[mode].push(measure(url, mode, n));
    const [raw, rawCallback, ours] = [fastest(passes.raw), fastest(passes["raw-callback"]), fastest(passes.ours)];
    const ratio = ours.eventsPerSec / raw.eventsPerSec;
    figures[String(n)] = { raw, rawCallback, ours, ratio, ratioToCallback: ours.eventsPerSec / rawCallback.eventsPerSec, passes };
    ratios.push(ratio);
    console.log(`  ${n}: ours ${Math.round(ours.eventsPerSec)} ev/s (peak ${ours.peakRssMiB} MiB, ${ours.heapAfterGcMiB} MiB after GC) vs raw ${Math.round(raw.eventsPerSec)} ev/s (peak ${raw.peakRssMiB} MiB), raw with a callback ${Math.round(rawCallback.eventsPerSec)} ev/s`);
    store.close();
    await stop();
  }
  const worst = Math.min(...ratios);
  const peak = (n: number) => (figures[String(n)] as { ours: Pass }).ours.peakRssMiB;
  writeBenchResult({
    name: "replay",
    ratio: worst,
    target: 0.7,
    better: "higher",
    figures: { sizes, rounds, ratios, ...figures },
    summary: `replay into all projections vs raw ordered consumer, worst of ${sizes.join(" / ")} events: ` +
      sizes.map((n, i) => {
        const f = figures[String(n)] as { raw: Pass; ours: Pass };
        return `${n}: ${ratios[i]!.toFixed(2)} (peak RSS ${peak(n)} MiB vs raw ${f.raw.peakRssMiB}, heap after GC ${f.ours.heapAfterGcMiB} MiB)`;
      }).join(", "),
  });
}
