import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import { JetStreamEventStore } from "../../../adapters/nats/event-store.ts";
import { ConcurrencyError } from "../../../events/store.ts";
import { EncodeError } from "../../../events/codec.ts";
import { EVENT_STREAM, QUARANTINE_STREAM, eventSubject } from "../../../events/subjects.ts";
import { startTestNats, type TestNats } from "../../support/nats.ts";
import { agentConsumer, IMPORTED_API } from "../../../adapters/nats/accounts.ts";
import { collect, inputReceived, meta, nightStarted, pending } from "../../support/events.ts";

let nats: TestNats;
let store: JetStreamEventStore;

beforeAll(async () => {
  nats = await startTestNats();
  store = new JetStreamEventStore(await nats.connect());
});
afterAll(async () => {
  store?.close();
  await nats?.stop();
});

describe("JetStreamEventStore", () => {
  it("stores the same event appended twice once (dedup by event id)", async () => {
    const p = pending(nightStarted("dedup-night"));
    const [first] = await store.append([p]);
    const [second] = await store.append([p]);
    expect(first!.duplicate).toBe(false);
    expect(second!.duplicate).toBe(true);
    expect(second!.seq).toBe(first!.seq);
    const stored = await collect(store.read({ types: new Set(["NightStarted"]) }));
    expect(stored.filter((e) => e.metadata.id === p.metadata.id)).toHaveLength(1);
  });

  it("a read of one family's types yields exactly what a full read filtered by type does, in order, up to `until`", async () => {
    const ids = Array.from({ length: 30 }, (_, k) => `family-${k}`);
    const out = await store.append(ids.flatMap((id, k) => (k % 5 === 0 ? [pending(nightStarted(`family-night-${k}`)), pending(inputReceived(id))] : [pending(inputReceived(id))])));
    const middle = out[Math.floor(out.length / 2)]!.seq;
    for (const types of [new Set(["NightStarted"]), new Set(["NightStarted", "InputReceived"]), new Set(["InputReceived"])]) {
      for (const until of [undefined, { seq: middle }]) {
        const filtered = await collect(store.read({ types, ...(until ? { until } : {}) }));
        const all = (await collect(store.read(until ? { until } : {}))).filter((e) => types.has(e.type));
        expect(filtered.map((e) => e.seq)).toEqual(all.map((e) => e.seq));
        expect(filtered.length).toBeGreaterThan(0);
      }
    }
  });

  it("refuses a stale expected subject sequence with the typed error; a retry after reloading succeeds", async () => {
    const subject = eventSubject("input", "occ-1");
    expect(await store.lastSubjectSeq(subject)).toBe(0);
    const [a] = await store.append([pending(inputReceived("occ-1"), {}, 0)]);
    // A second writer that also saw "nothing yet" loses.
    await expect(store.append([pending(inputReceived("occ-1"), {}, 0)])).rejects.toBeInstanceOf(ConcurrencyError);
    const seen = await store.lastSubjectSeq(subject);
    expect(seen).toBe(a!.seq);
    const [b] = await store.append([pending(inputReceived("occ-1"), {}, seen)]);
    expect(b!.seq).toBeGreaterThan(a!.seq);
  });

  it("chains several events on one subject under one expectation", async () => {
    const out = await store.append([
      pending(inputReceived("chain-1"), {}, 0),
      pending(inputReceived("chain-1")),
      pending(inputReceived("chain-1")),
    ]);
    expect(out.map((o) => o.seq)).toEqual([...out.map((o) => o.seq)].sort((x, y) => x - y));
    expect(await store.lastSubjectSeq(eventSubject("input", "chain-1"))).toBe(out[2]!.seq);
  });

  it("refuses an event whose payload does not match its schema, before writing anything", async () => {
    const before = await store.lastSeq();
    const bad = { type: "NightStarted", data: { nightId: "x", day: 5 } } as never;
    await expect(store.append([{ event: bad, metadata: meta() }])).rejects.toBeInstanceOf(EncodeError);
    expect(await store.lastSeq()).toBe(before);
  });

  it("reads from a sequence, until a sequence, and by time", async () => {
    const t0 = new Date();
    await new Promise((r) => setTimeout(r, 20));
    const appended = await store.append(["r1", "r2", "r3", "r4"].map((n) => pending(nightStarted(n))));
    const seqs = appended.map((a) => a.seq);
    const mid = await collect(store.read({ from: { seq: seqs[1]! }, until: { seq: seqs[2]! } }));
    expect(mid.map((e) => e.seq)).toEqual([seqs[1], seqs[2]]);
    const sinceT0 = await collect(store.read({ from: { time: t0 } }));
    expect(sinceT0.map((e) => e.seq)).toEqual(seqs);
    expect(await store.seqAt(new Date(t0.getTime()))).toBe(seqs[0]! - 1);
    expect(await store.seqAt(new Date(Date.now() + 1000))).toBe(await store.lastSeq());
  });

  it("upcasts an old version on read (NightStarted v1 has neither trigger nor window)", async () => {
    const nc = await nats.connect();
    const body = { ...meta({ id: "v1-night" }), type: "NightStarted", version: 1, data: { nightId: "old-night", day: "2026-01-01" } };
    const ack = await jetstream(nc).publish(eventSubject("night", "old-night"), JSON.stringify(body));
    const [ev] = await collect(store.read({ from: { seq: ack.seq }, until: { seq: ack.seq } }));
    expect(ev!.writtenVersion).toBe(1);
    expect(ev!.data).toEqual({ nightId: "old-night", day: "2026-01-01", trigger: "unknown", untilSeq: 0 });
  });

  it("quarantines a malformed message with its reason and keeps reading", async () => {
    const nc = await nats.connect();
    const js = jetstream(nc);
    const [before] = await store.append([pending(nightStarted("q-before"))]);
    await js.publish(eventSubject("night", "garbage"), "this is not json");
    await js.publish(eventSubject("night", "badpayload"), JSON.stringify({ ...meta(), type: "NightStarted", version: 2, data: { nightId: 1 } }));
    const [after] = await store.append([pending(nightStarted("q-after"))]);
    const quarantined: string[] = [];
    const read = await collect(store.read({ from: { seq: before!.seq }, onQuarantine: (q) => quarantined.push(q.reason) }));
    expect(read.map((e) => e.seq)).toEqual([before!.seq, after!.seq]);
    expect(quarantined).toHaveLength(2);
    expect(quarantined[0]).toMatch(/^not-json/);
    expect(quarantined[1]).toMatch(/^bad-payload/);
    const jsm = await jetstreamManager(nc);
    const q = await jsm.streams.info(QUARANTINE_STREAM);
    expect(q.state.messages).toBe(2);
    const m = await jsm.streams.getMessage(QUARANTINE_STREAM, { seq: 1 });
    expect(m!.header.get("Sophont-Quarantine-Reason")).toMatch(/not-json/);
    expect(m!.header.get("Sophont-Original-Subject")).toBe(eventSubject("night", "garbage"));
  });
});

describe("nats.conf permissions (the full hostile probe: privilege.int.test.ts)", () => {
  it("lets the agent read events through its consumer but not publish events or delete the stream", async () => {
    const agent = await nats.connect("agent");
    // Reading through the consumer the Soul made for it works.
    const c = await jetstream(agent, { apiPrefix: IMPORTED_API }).consumers.get(EVENT_STREAM, agentConsumer(nats.agent.name));
    const m = await c.next({ expires: 2000 });
    expect(m?.seq).toBe(1);
    await m!.ackAck();
    // Publishing an event is refused: the agent's account has no JetStream and no event subjects.
    const h = headers();
    h.set("Nats-Msg-Id", "agent-forgery");
    await expect(jetstream(agent).publish(eventSubject("night", "forged"), JSON.stringify({}), { headers: h, timeout: 2000 })).rejects.toThrow();
    const jsm = await jetstreamManager(agent, { checkAPI: false });
    await expect(jsm.streams.delete(EVENT_STREAM)).rejects.toThrow();
    await expect(jsm.streams.purge(EVENT_STREAM)).rejects.toThrow();
    // The stream is still whole.
    expect(await store.lastSeq()).toBeGreaterThan(0);
  });

  it("refuses the agent any command that is not documented for agents", async () => {
    const agent = await nats.connect("agent");
    for (const subject of ["sophont.cmd.night.start", "sophont.cmd.input.forget"]) {
      await expect(agent.request(subject, "{}", { timeout: 1000 })).rejects.toThrow();
    }
    // A documented agent command reaches the Soul's account (nobody answers here, so: no responders).
    await expect(agent.request("sophont.cmd.mitosis.approve", "{}", { timeout: 1000 })).rejects.toThrow(/no responders|503|timeout/i);
  });
});
