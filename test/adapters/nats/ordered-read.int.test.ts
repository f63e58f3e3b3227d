import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { JetStreamEventStore } from "../../../adapters/nats/event-store.ts";
import { MemoryCheckpointStore } from "../../../adapters/nats/checkpoints.ts";
import { OrderedPull, parseAckSubject, type PulledMessage } from "../../../adapters/nats/ordered-pull.ts";
import { EVENT_STREAM, eventSubject } from "../../../events/subjects.ts";
import type { Quarantined } from "../../../events/store.ts";
import { allProjections } from "../../../projections/index.ts";
import { ProjectionRunner } from "../../../projections/runner.ts";
import { startTestNats, type TestNats } from "../../support/nats.ts";
import { collect, inputReceived, nightStarted, pending } from "../../support/events.ts";

// Every read of the event store goes through OrderedPull (adapters/nats/ordered-pull.ts): an
// ephemeral pull consumer on core NATS. The log: 3000 events in 6 appends of 500, each followed by
// a message no event store wrote.
let nats: TestNats;
let nc: NatsConnection;
let store: JetStreamEventStore;
let last = 0;
const garbage: number[] = [];

beforeAll(async () => {
  nats = await startTestNats();
  nc = await nats.connect();
  store = new JetStreamEventStore(nc, { quarantine: false });
  for (let b = 0; b < 6; b++) {
    await store.append(Array.from({ length: 500 }, (_, i) => pending(i % 100 === 0 ? nightStarted(`n-${b}-${i}`) : inputReceived(`in-${b}-${i}`))));
    garbage.push((await jetstream(nc).publish(eventSubject("night", `garbage-${b}`), "not json at all")).seq);
  }
  last = await store.lastSeq();
});
afterAll(async () => {
  store?.close();
  await nats?.stop();
});

const consumers = async () => (await (await jetstreamManager(nc)).consumers.list(EVENT_STREAM).next()).map((c) => c.name);
const everySeq = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i).filter((s) => !garbage.includes(s));

describe("reading the event log in order", () => {
  it("yields every event once, in order, and reports each undecodable message where it lies", async () => {
    const q: Quarantined[] = [];
    const events = await collect(store.read({ onQuarantine: (x) => q.push(x) }));
    expect(events.map((e) => e.seq)).toEqual(everySeq(1, last));
    expect(q.map((x) => x.seq)).toEqual(garbage);
    expect(q[0]!.reason).toMatch(/^not-json/);
    expect(events[0]!.storedAt).toBeGreaterThan(Date.now() - 60_000);
  });

  it("honours from, until, types and subject, and ends where the log ends", async () => {
    expect((await collect(store.read({ from: { seq: 700 }, until: { seq: 2100 } }))).map((e) => e.seq)).toEqual(everySeq(700, 2100));
    expect((await collect(store.read({ types: new Set(["NightStarted"]) }))).length).toBe(30);
    const one = await collect(store.read({ subject: eventSubject("input", "in-3-7") }));
    expect(one.map((e) => [e.type, (e.data as { inputId: string }).inputId])).toEqual([["InputReceived", "in-3-7"]]);
    expect(await collect(store.read({ subject: eventSubject("input", "nobody") }))).toEqual([]);
    expect((await collect(store.read({ from: { seq: 2990 }, until: { seq: last + 1000 } }))).map((e) => e.seq)).toEqual(everySeq(2990, last));
    expect(await collect(store.read({ from: { seq: last + 5 } }))).toEqual([]);
    expect(await consumers()).toEqual([]); // each read deleted its consumer
  });

  it("stops asking for more while its reader is slow, and goes on where it stopped", async () => {
    const slow = new JetStreamEventStore(await nats.connect(), { quarantine: false, readAhead: 1 });
    const seqs: number[] = [];
    for await (const batch of slow.readBatches({})) {
      seqs.push(...batch.map((e) => e.seq));
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(seqs).toEqual(everySeq(1, last));
    slow.close();
  });

  it("starts a new consumer after the last message taken when its consumer is deleted mid-read", async () => {
    const jsm = await jetstreamManager(nc);
    const seqs: number[] = [];
    let deleted: Promise<void> | undefined;
    const ended = new Promise<Error | undefined>((resolve) => {
      void OrderedPull.open(nc, jsm, { stream: EVENT_STREAM, startSeq: 1, batch: 100 }, {
        message: (m) => {
          seqs.push(m.seq);
          if (seqs.length === 500) deleted = consumers().then(([name]) => jsm.consumers.delete(EVENT_STREAM, name!)).then(() => undefined);
        },
        end: resolve,
      });
    });
    expect(await ended).toBeUndefined();
    await deleted;
    expect(seqs).toEqual(everySeq(1, last).concat(garbage).sort((x, y) => x - y));
  });

  it("goes on at once after a pause longer than the server keeps an idle consumer", async () => {
    const jsm = await jetstreamManager(nc);
    const seqs: number[] = [];
    let resumedAt = 0;
    let reader: OrderedPull | undefined;
    const ended = new Promise<Error | undefined>((resolve) => {
      void OrderedPull.open(nc, jsm, { stream: EVENT_STREAM, startSeq: 1, batch: 100, inactiveMs: 1_000 }, {
        message: (m) => {
          seqs.push(m.seq);
          if (seqs.length === 120) {
            reader!.pause();
            // What was asked for still arrives; then nothing waits, and the server drops the consumer.
            setTimeout(() => ((resumedAt = Date.now()), reader!.resume()), 3_000);
          }
        },
        end: resolve,
      }).then((r) => (reader = r));
    });
    expect(await ended).toBeUndefined();
    // Waiting for missed heartbeats (5 s each) would take over 11 s.
    expect(Date.now() - resumedAt).toBeLessThan(3_000);
    expect(seqs).toEqual(everySeq(1, last).concat(garbage).sort((x, y) => x - y));
  });

  it("survives a restart of the server mid-read: a new consumer after the last message, nothing lost", async () => {
    const reading = await nats.connect();
    const jsm = await jetstreamManager(reading);
    const seqs: number[] = [];
    let restarted: Promise<void> | undefined;
    const ended = new Promise<Error | undefined>((resolve) => {
      void OrderedPull.open(reading, jsm, { stream: EVENT_STREAM, startSeq: 1, batch: 100, heartbeatMs: 500 }, {
        message: (m) => {
          seqs.push(m.seq);
          if (seqs.length === 500) restarted = nats.restart();
        },
        end: resolve,
      });
    });
    expect(await ended).toBeUndefined();
    await restarted;
    expect(seqs).toEqual(everySeq(1, last).concat(garbage).sort((x, y) => x - y));
  });

  it("follows the log: an event appended after the read began arrives, and aborting ends the read", async () => {
    const abort = new AbortController();
    const seen: number[] = [];
    const reading = (async () => {
      for await (const e of store.read({ from: { seq: last - 2 }, follow: true, signal: abort.signal })) {
        seen.push(e.seq);
        if (e.type === "NightStarted" && (e.data as { nightId: string }).nightId === "late") abort.abort();
      }
    })();
    await new Promise((r) => setTimeout(r, 200));
    const [late] = await store.append([pending(nightStarted("late"))]);
    await reading;
    expect(seen).toEqual([last - 2, last - 1, late!.seq].filter((s) => !garbage.includes(s)));
  });

  it("folds the same projections whatever the read-ahead", async () => {
    const a = new ProjectionRunner(store, new MemoryCheckpointStore(), allProjections);
    const b = new ProjectionRunner(new JetStreamEventStore(nc, { quarantine: false, readAhead: 1 }), new MemoryCheckpointStore(), allProjections);
    await Promise.all([a.catchUp(), b.catchUp()]);
    for (const p of allProjections) expect(b.state(p.name)).toEqual(a.state(p.name));
  });

  it("ends with an error, not a hang, when the stream cannot be read", async () => {
    const ends: Array<Error | undefined> = [];
    await expect(OrderedPull.open(nc, await jetstreamManager(nc), { stream: "NO_SUCH_STREAM", startSeq: 1 }, {
      message: (_m: PulledMessage) => undefined, end: (e) => ends.push(e),
    })).rejects.toThrow(/stream not found/i);
    expect(ends).toEqual([]);
  });
});

describe("JetStream ack subjects", () => {
  const out = { seq: 0, delivered: 0, timestampNanos: 0, pending: 0 };
  it("give the stream sequence, the delivery count, the time and what is pending, in both layouts", () => {
    expect(parseAckSubject("$JS.ACK.SOPHONT_EVENTS.bK4i1s9m.1.42.7.1795657010520385864.9", out)).toBe(true);
    expect(out).toMatchObject({ seq: 42, delivered: 7, pending: 9 });
    expect(Math.floor(out.timestampNanos / 1e6)).toBe(1795657010520);
    expect(parseAckSubject("$JS.ACK.hub.ACCHASH.SOPHONT_EVENTS.c1.1.1000001.3.1795657010520385864.0.rnd", out)).toBe(true);
    expect(out).toMatchObject({ seq: 1000001, delivered: 3, pending: 0 });
  });

  it("refuse anything else", () => {
    for (const s of ["_INBOX.abc", "$JS.ACK.S.c.1.2.3", "$JS.ACK.S.c.1.x.3.4.5", "$JS.NAK.S.c.1.2.3.4.5"]) expect(parseAckSubject(s, out)).toBe(false);
  });
});
