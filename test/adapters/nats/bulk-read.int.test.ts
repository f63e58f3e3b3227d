import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstream } from "@nats-io/jetstream";
import { JetStreamEventStore } from "../../../adapters/nats/event-store.ts";
import { MemoryCheckpointStore } from "../../../adapters/nats/checkpoints.ts";
import { eventSubject } from "../../../events/subjects.ts";
import type { Quarantined, ReadOptions } from "../../../events/store.ts";
import { allProjections } from "../../../projections/index.ts";
import { ProjectionRunner } from "../../../projections/runner.ts";
import { startTestNats, type TestNats } from "../../support/nats.ts";
import { collect, inputReceived, nightStarted, pending } from "../../support/events.ts";

// Long reads run their NATS side on a reader thread (adapters/nats/bulk-reader.ts). Here every read
// takes that path (bulkReadMin 1; the first 700 events on this thread while the reader starts) and
// must give exactly what the plain path gives.
let nats: TestNats;
let plain: JetStreamEventStore;
let bulk: JetStreamEventStore;
let last = 0;

beforeAll(async () => {
  nats = await startTestNats();
  const nc = await nats.connect();
  plain = new JetStreamEventStore(nc, { quarantine: false });
  bulk = new JetStreamEventStore(nc, { quarantine: false, reader: { url: nats.url, user: "soul", pass: nats.secrets.soul }, bulkReadMin: 1, bulkReadHead: 700 });
  for (let b = 0; b < 6; b++) {
    await plain.append(Array.from({ length: 500 }, (_, i) => pending(i % 100 === 0 ? nightStarted(`n-${b}-${i}`) : inputReceived(`in-${b}-${i}`))));
    // A message no event store wrote: both paths must report it, in the same place.
    await jetstream(nc).publish(eventSubject("night", `garbage-${b}`), "not json at all");
  }
  last = await plain.lastSeq();
});
afterAll(async () => {
  plain?.close();
  bulk?.close();
  await nats?.stop();
});

const both = async (options: ReadOptions) => {
  const q: Record<string, Quarantined[]> = { plain: [], bulk: [] };
  const [a, b] = await Promise.all([
    collect(plain.read({ ...options, onQuarantine: (x) => q.plain!.push(x) })),
    collect(bulk.read({ ...options, onQuarantine: (x) => q.bulk!.push(x) })),
  ]);
  return { plain: a, bulk: b, q };
};

describe("long reads on the reader thread", () => {
  it("yield the same events, in order, and report the same undecodable messages", async () => {
    const r = await both({});
    expect(r.bulk.length).toBe(3000);
    expect(r.bulk).toEqual(r.plain);
    expect(r.bulk.map((e) => e.seq)).toEqual([...r.bulk.map((e) => e.seq)].sort((x, y) => x - y));
    expect(r.q.bulk).toHaveLength(6);
    expect(r.q.bulk).toEqual(r.q.plain);
    expect(r.q.bulk[0]!.reason).toMatch(/^not-json/);
  });

  it("honour from, until, types and subject", async () => {
    const ranged = await both({ from: { seq: 700 }, until: { seq: 2100 } });
    expect(ranged.bulk).toEqual(ranged.plain);
    expect(ranged.bulk[0]!.seq).toBe(700);
    expect(ranged.bulk.at(-1)!.seq).toBe(2100);
    const nights = await both({ types: new Set(["NightStarted"]) });
    expect(nights.bulk.length).toBe(30);
    expect(nights.bulk).toEqual(nights.plain);
    const one = await both({ subject: eventSubject("input", "in-3-7") });
    expect(one.bulk.map((e) => e.type)).toEqual(["InputReceived"]);
    expect(one.bulk).toEqual(one.plain);
    expect(await collect(bulk.read({ subject: eventSubject("input", "nobody") }))).toEqual([]);
    // Ranges past the end of the log end there, without waiting for more.
    expect(await collect(plain.read({ from: { seq: 2990 }, until: { seq: last + 1000 } }))).toEqual((await collect(plain.read({}))).filter((e) => e.seq >= 2990));
    expect(await collect(plain.read({ from: { seq: last + 5 } }))).toEqual([]);
    expect(await collect(plain.read({ from: { seq: last + 5 }, until: { seq: last + 50 } }))).toEqual([]);
  });

  it("stop the thread when the reader breaks off early", async () => {
    let n = 0;
    for await (const batch of bulk.readBatches({})) {
      n += batch.length;
      if (n >= 600) break;
    }
    expect(n).toBeGreaterThanOrEqual(600);
    expect((await collect(bulk.read({ until: { seq: 10 } }))).length).toBe(10);
  });

  it("pause a plain read while its reader is slow, and go on where it stopped", async () => {
    const nc = await nats.connect();
    const slow = new JetStreamEventStore(nc, { quarantine: false, readAhead: 1 });
    const seqs: number[] = [];
    for await (const batch of slow.readBatches({ types: new Set(["InputReceived", "NightStarted"]) })) {
      seqs.push(...batch.map((e) => e.seq));
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(seqs).toEqual((await collect(plain.read({}))).map((e) => e.seq));
    slow.close();
  });

  it("fold into the same projections as the plain path", async () => {
    const a = new ProjectionRunner(plain, new MemoryCheckpointStore(), allProjections);
    const b = new ProjectionRunner(bulk, new MemoryCheckpointStore(), allProjections);
    await Promise.all([a.catchUp(), b.catchUp()]);
    for (const p of allProjections) expect(b.state(p.name)).toEqual(a.state(p.name));
    expect(b.state<{ total: number; lastSeq: number }>("event-counts")).toMatchObject({ total: 3000, lastSeq: last - 1 }); // the last message is garbage
  });

  it("say clearly when the reader thread cannot connect", async () => {
    const nc = await nats.connect();
    const wrong = new JetStreamEventStore(nc, { reader: { url: nats.url, user: "soul", pass: "wrong" }, bulkReadMin: 1, bulkReadHead: 1 });
    await expect(collect(wrong.read({}))).rejects.toThrow(/reading SOPHONT_EVENTS from \d+: .*(auth|Authorization)/i);
    // The store itself goes on working.
    expect(await wrong.lastSeq()).toBe(last);
    wrong.close();
  });
});
