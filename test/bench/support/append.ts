// The two append paths the append benchmarks compare, on any connection: the EventStore's validated
// appends and the fastest raw JetStream publishing (pre-encoded bodies with a reply subject, one
// subscription counting the acks), both with the same number of messages in flight.
import { createInbox, type NatsConnection } from "@nats-io/transport-node";
import type { JetStreamEventStore } from "../../../adapters/nats/event-store.ts";
import { encodeEvent } from "../../../events/codec.ts";
import type { Pending } from "../../../events/store.ts";

export const BATCH = 1000;
export const WINDOW = 4096;

export const benchEvent = (i: number): Pending => ({
  event: {
    type: "InputReceived",
    data: { inputId: `in-${i}`, day: "2026-11-25", source: { path: "/var/log/app.log", format: "log", index: i }, bytes: 180 + (i % 50), contentSha256: `${i}`.padStart(64, "0") },
  },
  metadata: { id: `ev-${process.pid}-${i}`, time: new Date().toISOString(), actor: "bench", causationId: null, correlationId: "bench" },
});

/** Pre-encoded bodies for the raw path (ids from `offset`, apart from the ones `ours` appends). */
export const rawBodies = (n: number, offset: number) =>
  Array.from({ length: n }, (_, i) => {
    const p = benchEvent(offset + i);
    const e = encodeEvent(p.event, p.metadata);
    return { subject: e.subject, body: e.body };
  });

/** Raw acked publishes, WINDOW in flight; events per second. */
export const rawPublish = async (nc: NatsConnection, bodies: ReadonlyArray<{ subject: string; body: Uint8Array }>): Promise<number> => {
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
  return bodies.length / s;
};

/** `n` validated appends through the EventStore in batches of BATCH, WINDOW in flight; events per second. */
export const storeAppend = async (store: JetStreamEventStore, n: number, offset: number): Promise<number> => {
  const t0 = performance.now();
  const inFlight: Promise<unknown>[] = [];
  for (let b = 0; b < n; b += BATCH) {
    inFlight.push(store.append(Array.from({ length: Math.min(BATCH, n - b) }, (_, k) => benchEvent(offset + b + k))));
    if (inFlight.length >= WINDOW / BATCH) await inFlight.shift();
  }
  await Promise.all(inFlight);
  return n / ((performance.now() - t0) / 1000);
};

/** Warm-up of both paths, then two alternating rounds; each path's best. */
export const compareAppends = async (nc: NatsConnection, store: JetStreamEventStore, n: number) => {
  const bodies = rawBodies(n, 10_000_000);
  await rawPublish(nc, bodies.slice(0, Math.min(5000, n)));
  await storeAppend(store, n, 50_000_000); // the store's path warms up over a full run (JIT, the ack pipe)
  const rawRates: number[] = [];
  const ourRates: number[] = [];
  for (let round = 0; round < 2; round++) {
    rawRates.push(await rawPublish(nc, bodies));
    ourRates.push(await storeAppend(store, n, round * n));
  }
  return { raw: Math.max(...rawRates), ours: Math.max(...ourRates), rawRates, ourRates };
};
