import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JetStreamEventStore } from "../../adapters/nats/event-store.ts";
import { KvCheckpointStore } from "../../adapters/nats/checkpoints.ts";
import { ProjectionRunner, projectAt } from "../../projections/runner.ts";
import { nightSummaries, type NightSummaries } from "../../projections/night-summaries.projection.ts";
import { eventCounts, type EventCounts } from "../../projections/event-counts.projection.ts";
import { startTestNats, type TestNats } from "../support/nats.ts";
import { inputReceived, nightStarted, pending } from "../support/events.ts";

let nats: TestNats;
let store: JetStreamEventStore;
let checkpoints: KvCheckpointStore;

beforeAll(async () => {
  nats = await startTestNats();
  const nc = await nats.connect();
  store = new JetStreamEventStore(nc);
  checkpoints = new KvCheckpointStore(nc);
});
afterAll(async () => {
  store?.close();
  await nats?.stop();
});

const appendDay = (day: string, inputs: number) =>
  store.append([pending(nightStarted(day, day)), ...Array.from({ length: inputs }, (_, i) => pending(inputReceived(`${day}-in${i}`, day)))]);

describe("ProjectionRunner", () => {
  it("resumes from its checkpoint across restarts and equals a rebuild from sequence 1", async () => {
    const projections = [nightSummaries, eventCounts];
    await appendDay("2026-10-01", 30);
    const first = new ProjectionRunner(store, checkpoints, projections, { checkpointEvery: 7 });
    await first.catchUp();
    await appendDay("2026-10-02", 25);
    // A new process: it starts from the saved checkpoints, not from the beginning.
    const second = new ProjectionRunner(store, checkpoints, projections, { checkpointEvery: 7 });
    const before = await second.positions();
    expect(before.every((p) => p.lastSeq > 0 && p.lag === 26)).toBe(true);
    await second.catchUp();
    const incremental = { nights: second.state<NightSummaries>("night-summaries"), counts: second.state<EventCounts>("event-counts") };

    const rebuilt = new ProjectionRunner(store, checkpoints, projections);
    await rebuilt.reset();
    await rebuilt.catchUp();
    expect(rebuilt.state("night-summaries")).toEqual(incremental.nights);
    expect(rebuilt.state("event-counts")).toEqual(incremental.counts);
    expect(incremental.counts.byType).toEqual({ NightStarted: 2, InputReceived: 55 });
  });

  it("rebuilds from sequence 1 when a projection's version changes", async () => {
    const v2 = { ...eventCounts, version: 2 };
    const runner = new ProjectionRunner(store, checkpoints, [v2]);
    const [pos] = await runner.positions();
    expect(pos!.lastSeq).toBe(0);
    await runner.catchUp();
    expect(runner.state<EventCounts>("event-counts").total).toBe(await store.lastSeq());
  });

  it("travels in time: the state as of a sequence and as of a time", async () => {
    const cut = await store.lastSeq();
    const t = new Date();
    await new Promise((r) => setTimeout(r, 15));
    await appendDay("2026-10-03", 5);
    const atSeq = await projectAt(store, nightSummaries, { seq: cut });
    const atTime = await projectAt(store, nightSummaries, { time: t });
    const now = await projectAt(store, nightSummaries, "now");
    expect(Object.keys(atSeq).sort()).toEqual(["2026-10-01", "2026-10-02"]);
    expect(atTime).toEqual(atSeq);
    expect(Object.keys(now)).toContain("2026-10-03");
    const countsThen = await projectAt(store, eventCounts, { seq: 10 });
    expect(countsThen.total).toBe(10);
    expect(countsThen.lastSeq).toBe(10);
  });
});

describe("KvCheckpointStore", () => {
  it("keeps a state larger than one NATS message in the object store, and reads it back", async () => {
    const big = { entries: Array.from({ length: 30_000 }, (_, i) => ({ id: `input-${i}`, sha: `${i}`.padStart(64, "0") })) };
    await checkpoints.put("big-projection", { version: 1, lastSeq: 42, state: big });
    expect(JSON.stringify(big).length).toBeGreaterThan(1_000_000);
    expect(await checkpoints.get("big-projection")).toEqual({ version: 1, lastSeq: 42, state: big });
    await checkpoints.put("big-projection", { version: 1, lastSeq: 43, state: { entries: big.entries.slice(0, 10) } });
    expect((await checkpoints.get("big-projection"))!.lastSeq).toBe(43);
  });
});
