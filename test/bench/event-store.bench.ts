// Append throughput of the EventStore (schema validation, envelope, dedup id, ack before it counts)
// as a ratio of the fastest raw JetStream publishing against the same server in the same run.
import { JetStreamEventStore } from "../../adapters/nats/event-store.ts";
import { BATCH, compareAppends, WINDOW } from "./support/append.ts";
import { benchNats } from "./support/nats.ts";
import { writeBenchResult } from "./support/result.ts";

const N = Number(process.env.BENCH_APPEND_N ?? 100_000);

const { nc, stop } = await benchNats();
const store = new JetStreamEventStore(nc);
const r = await compareAppends(nc, store, N);
writeBenchResult({
  name: "event-store-append",
  ratio: r.ours / r.raw,
  target: 0.5,
  better: "higher",
  figures: { events: N, batch: BATCH, window: WINDOW, oursEventsPerSec: Math.round(r.ours), rawEventsPerSec: Math.round(r.raw), rawRates: r.rawRates, ourRates: r.ourRates },
  summary: `append ${Math.round(r.ours)} ev/s vs raw pipelined JetStream publish ${Math.round(r.raw)} ev/s (${N} events)`,
});
store.close();
await stop();
