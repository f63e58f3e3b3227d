import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { connectNats, ensureInfrastructure } from "../../../adapters/nats/connection.ts";
import { ObjectContentStore } from "../../../adapters/nats/content-store.ts";
import { JetStreamEventStore } from "../../../adapters/nats/event-store.ts";
import { EVENT_STREAM } from "../../../events/subjects.ts";
import { clusterSecrets, startTempCluster, type TestCluster } from "../../support/cluster.ts";
import { collect, inputReceived, pending } from "../../support/events.ts";

// What a night does on a cluster after a node dies, without the night: reads of the log and of the
// content store, each with a fresh consumer or message get, while the killed node stays down. On
// nats-server 2.9.10 a consumer made in those minutes is placed on the dead node about a third of
// the time and its creation never answers; a read that gave up on the first timeout (or a night
// that counted it as a failure) stalled until the node came back.

const EVENTS = 120;
const READS = 12;
let cluster: TestCluster;
let nc: NatsConnection;
let store: JetStreamEventStore;
let content: ObjectContentStore;
const texts = ["The tide turns at the harbour mouth.", "A comet brightens near the sun.", "Prune the roses in late winter."];
const shas: string[] = [];

beforeAll(async () => {
  cluster = await startTempCluster();
  nc = await connectNats({ url: cluster.url, user: "soul", pass: clusterSecrets.soul, name: "failover-test" });
  await ensureInfrastructure(nc, { replicas: 3 });
  store = new JetStreamEventStore(nc, { quarantine: false });
  content = new ObjectContentStore(nc, 3);
  await store.append(Array.from({ length: EVENTS }, (_, i) => pending(inputReceived(`in-${i}`))));
  for (const t of texts) shas.push(await content.put(new TextEncoder().encode(t)));
}, 120_000);

afterAll(async () => {
  store?.close();
  await nc?.close().catch(() => undefined);
  await cluster?.stop();
});

describe("the NATS adapters on a three-node cluster with its meta leader killed (kill -9) and kept down", () => {
  it("every read of the log and of the content store succeeds while the node is down, then the node rejoins and catches up", async () => {
    const victim = await cluster.metaLeader();
    await cluster.kill(victim);
    const t0 = Date.now();
    const took: number[] = [];
    for (let i = 0; i < READS; i++) {
      const t = Date.now();
      const events = await collect(store.read());
      expect(events).toHaveLength(EVENTS);
      const sha = shas[i % shas.length]!;
      expect(new TextDecoder().decode(await content.get(sha))).toBe(texts[i % texts.length]);
      took.push(Date.now() - t);
    }
    console.log(`[failover] ${READS} reads of ${EVENTS} events and a text with ${victim} down: ${((Date.now() - t0) / 1000).toFixed(1)} s, each ${took.map((ms) => (ms / 1000).toFixed(1)).join(", ")} s`);
    // Appends go on, and what is appended while the node is down is read back.
    const more = await store.append([pending(inputReceived("after-kill"))]);
    expect((await collect(store.read({ from: { seq: more[0]!.seq } }))).map((e) => (e.data as { inputId: string }).inputId)).toEqual(["after-kill"]);
    await cluster.restart(victim);
    const last = await store.lastSeq();
    for (const end = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 250))) {
      const seq = (await cluster.jsz(victim))?.account_details?.find((a) => a.name === "SOPHONT")?.stream_detail?.find((s) => s.name === EVENT_STREAM)?.state.last_seq;
      if (seq === last) break;
      if (Date.now() > end) throw new Error(`${victim} did not catch up with seq ${last} in 60 s after its restart (at ${seq})`);
    }
  }, 240_000);
});
