// Append throughput of the EventStore (schema validation, envelope, dedup id, ack before it counts)
// as a ratio of the fastest raw JetStream publishing against the same server in the same run:
// pre-encoded bodies published with a reply subject, one subscription counting the acks.
import { createInbox } from "@nats-io/transport-node";
import { JetStreamEventStore } from "../../adapters/nats/event-store.ts";
import { encodeEvent } from "../../events/codec.ts";
import type { Pending } from "../../events/store.ts";
import { benchNats } from "./support/nats.ts";
import { writeBenchResult } from "./support/result.ts";

const N = Number(process.env.BENCH_APPEND_N ?? 100_000);
const BATCH = 1000;
const WINDOW = 4096;

const event = (i: number): Pending => ({
  event: {
    type: "InputReceived",
    data: { inputId: `in-${i}`, day: "2026-11-25", source: { path: "/var/log/app.log", format: "log", index: i }, bytes: 180 + (i % 50), contentSha256: `${i}`.padStart(64, "0") },
  },
  metadata: { id: `ev-${process.pid}-${i}`, time: new Date().toISOString(), actor: "bench", causationId: null, correlationId: "bench" },
});

const raw = async (nc: Awaited<ReturnType<typeof benchNats>>["nc"], bodies: Array<{ subject: string; body: Uint8Array }>) => {
  const inbox = createInbox();
  let acked = 0;
  let inflight = 0;
  let wake: (() => void) | undefined;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((r) => (finish = r));
  const sub = nc.subscribe(`${inbox}.*`, {
    callback: () => {
      acked++;
      inflight--;
      wake?.();
      if (acked === bodies.length) finish();
    },
  });
  const t0 = performance.now();
  for (let i = 0; i < bodies.length; i++) {
    while (inflight >= WINDOW) await new Promise<void>((r) => (wake = r));
    inflight++;
    nc.publish(bodies[i]!.subject, bodies[i]!.body, { reply: `${inbox}.${i}` });
  }
  await done;
  const s = (performance.now() - t0) / 1000;
  sub.unsubscribe();
  return N / s;
};

const ours = async (store: JetStreamEventStore, offset: number) => {
  const t0 = performance.now();
  const inFlight: Promise<unknown>[] = [];
  for (let b = 0; b < N; b += BATCH) {
    inFlight.push(store.append(Array.from({ length: BATCH }, (_, k) => event(offset + b + k))));
    if (inFlight.length >= WINDOW / BATCH) await inFlight.shift();
  }
  await Promise.all(inFlight);
  return N / ((performance.now() - t0) / 1000);
};

const { nc, stop } = await benchNats();
const store = new JetStreamEventStore(nc);
// Warm-up of both paths, then alternate twice and keep each path's best.
const bodies = Array.from({ length: N }, (_, i) => {
  const p = event(10_000_000 + i);
  const e = encodeEvent(p.event, p.metadata);
  return { subject: e.subject, body: e.body };
});
await raw(nc, bodies.slice(0, 5000));
await ours(store, 50_000_000);
const rawRates: number[] = [];
const ourRates: number[] = [];
for (let round = 0; round < 2; round++) {
  rawRates.push(await raw(nc, bodies));
  ourRates.push(await ours(store, round * N));
}
const rawBest = Math.max(...rawRates);
const ourBest = Math.max(...ourRates);
writeBenchResult({
  name: "event-store-append",
  ratio: ourBest / rawBest,
  target: 0.5,
  better: "higher",
  figures: { events: N, batch: BATCH, window: WINDOW, oursEventsPerSec: Math.round(ourBest), rawEventsPerSec: Math.round(rawBest), rawRates, ourRates },
  summary: `append ${Math.round(ourBest)} ev/s vs raw pipelined JetStream publish ${Math.round(rawBest)} ev/s (${N} events)`,
});
store.close();
await stop();
