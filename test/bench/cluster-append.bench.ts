// Append throughput on a three-node JetStream cluster (nats-server on loopback, the event stream at
// R3, written by the same code as `sophont cluster conf`): the EventStore's validated appends as a
// ratio of raw acked publishes on the same R3 stream, in the same run. An ack on R3 waits for a
// majority of the nodes, so both paths pay the replication; the ratio is what Sophont adds to it.
import { jetstreamManager } from "@nats-io/jetstream";
import { connectNats, ensureInfrastructure } from "../../adapters/nats/connection.ts";
import { JetStreamEventStore } from "../../adapters/nats/event-store.ts";
import { EVENT_STREAM } from "../../events/subjects.ts";
import { clusterSecrets, startTempCluster } from "../support/cluster.ts";
import { BATCH, compareAppends, WINDOW } from "./support/append.ts";
import { writeBenchResult } from "./support/result.ts";

const N = Number(process.env.BENCH_CLUSTER_APPEND_N ?? 30_000);

const cluster = await startTempCluster();
const nc = await connectNats({ url: cluster.url, user: "soul", pass: clusterSecrets.soul, name: "bench-cluster" });
await ensureInfrastructure(nc, { replicas: 3 });
const replicas = (await (await jetstreamManager(nc)).streams.info(EVENT_STREAM)).config.num_replicas;
if (replicas !== 3) throw new Error(`the event stream has ${replicas} replicas, not 3`);
const store = new JetStreamEventStore(nc);
const r = await compareAppends(nc, store, N);
writeBenchResult({
  name: "cluster-append",
  ratio: r.ours / r.raw,
  target: 0.5,
  better: "higher",
  figures: { events: N, nodes: 3, replicas, batch: BATCH, window: WINDOW, oursEventsPerSec: Math.round(r.ours), rawEventsPerSec: Math.round(r.raw), rawRates: r.rawRates, ourRates: r.ourRates },
  summary: `3-node cluster, R3 event stream: append ${Math.round(r.ours)} ev/s vs raw acked publish ${Math.round(r.raw)} ev/s on the same stream (${N} events)`,
});
store.close();
await nc.drain().catch(() => undefined);
await cluster.stop();
