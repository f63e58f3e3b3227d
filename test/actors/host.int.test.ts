import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { ActorHost } from "../../actors/host.ts";
import { Refusal } from "../../actors/decider.ts";
import { soulDecider, type SoulCommand } from "../../actors/soul/soul.decider.ts";
import type { Settled } from "../../actors/machine.ts";
import { JetStreamEventStore } from "../../adapters/nats/event-store.ts";
import { QUARANTINE_STREAM, eventSubject } from "../../events/subjects.ts";
import { startTestNats, type TestNats } from "../support/nats.ts";
import { collect, meta } from "../support/events.ts";

let nats: TestNats;

beforeAll(async () => {
  nats = await startTestNats();
});
afterAll(async () => {
  await nats?.stop();
});

const startNight = (day: string, id = `cmd-${day}`) => ({ id, actor: "cli", command: { type: "StartNight", day, trigger: "cli" } as SoulCommand });

const waitFor = async (pred: () => Promise<boolean>, ms = 15_000) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("condition not met in time");
};

const eventsOf = async (store: JetStreamEventStore, type: string) => (await collect(store.read({ types: new Set([type]) })));

describe("ActorHost running the Soul", () => {
  it("answers a command with the events it caused, reacts to them, and refuses a repeat", async () => {
    const store = new JetStreamEventStore(await nats.connect());
    const host = new ActorHost(store, soulDecider);
    await host.start();
    const appended = await host.command(startNight("2026-11-01"));
    expect(appended).toHaveLength(1);
    await waitFor(async () => (await eventsOf(store, "NightCompleted")).some((e) => e.type === "NightCompleted" && e.data.nightId === "2026-11-01"));
    const [started] = (await eventsOf(store, "NightStarted")).filter((e) => e.metadata.causationId === "cmd-2026-11-01");
    const [completed] = (await eventsOf(store, "NightCompleted")).filter((e) => e.type === "NightCompleted" && e.data.nightId === "2026-11-01");
    // Causation chains the command, the night and its completion.
    expect(completed!.metadata.causationId).toBe(started!.metadata.id);
    expect(completed!.metadata.correlationId).toBe(started!.metadata.correlationId);
    await expect(host.command(startNight("2026-11-01", "cmd-again"))).rejects.toBeInstanceOf(Refusal);
    await expect(host.command({ id: "x", actor: "cli", command: { type: "Explode" } as never })).rejects.toThrow(/does not accept Explode/);
    await host.stop();
    store.close();
  });

  it("keeps each decided event once when it dies between append and ack", async () => {
    const nc1 = await nats.connect();
    const store1 = new JetStreamEventStore(nc1);
    let appendedBeforeCrash: Settled | undefined;
    let crash!: () => void;
    const crashed = new Promise<void>((r) => (crash = r));
    const host1 = new ActorHost(store1, soulDecider, {
      durable: "soul-crash",
      ackWaitMs: 1000,
      // The process "dies" right before the ack: the decided event is already in the log.
      beforeAck: async (item) => {
        if (item.kind === "event") {
          crash();
          await new Promise(() => undefined);
        }
      },
      onSettled: (s) => (appendedBeforeCrash = s),
    });
    await host1.start();
    await host1.command(startNight("2026-11-02"));
    await crashed;
    await nc1.close();
    expect(appendedBeforeCrash?.type).toBe("settled"); // the command itself

    const store2 = new JetStreamEventStore(await nats.connect());
    const host2 = new ActorHost(store2, soulDecider, { durable: "soul-crash", ackWaitMs: 1000 });
    await host2.start();
    // Redelivery after ack_wait: nothing is decided twice.
    await new Promise((r) => setTimeout(r, 2500));
    const completions = (await eventsOf(store2, "NightCompleted")).filter((e) => e.type === "NightCompleted" && e.data.nightId === "2026-11-02");
    expect(completions).toHaveLength(1);
    expect(host2.current().nights["2026-11-02"]).toMatchObject({ completed: true });
    await host2.stop();
    store2.close();
  });

  it("rebuilds its state from the log on start", async () => {
    const store = new JetStreamEventStore(await nats.connect());
    const host = new ActorHost(store, soulDecider, { durable: "soul-rebuild" });
    await host.start();
    await waitFor(async () => Object.keys(host.current().nights).length >= 2);
    const live = host.current();
    await host.stop();
    const again = new ActorHost(store, soulDecider, { durable: "soul-rebuild" });
    await again.start();
    expect(again.current()).toEqual(live);
    await again.stop();
    store.close();
  });

  it("quarantines a malformed message on an event subject and keeps going", async () => {
    const nc = await nats.connect();
    const store = new JetStreamEventStore(nc);
    const host = new ActorHost(store, soulDecider, { durable: "soul-quarantine" });
    await host.start();
    await jetstream(nc).publish(eventSubject("night", "broken"), "{ not json");
    await host.command(startNight("2026-11-03"));
    await waitFor(async () => host.current().nights["2026-11-03"]?.completed === true);
    const q = await (await jetstreamManager(nc)).streams.info(QUARANTINE_STREAM);
    expect(q.state.messages).toBeGreaterThanOrEqual(1);
    await host.stop();
    store.close();
  });

  it("quarantines a valid event published on a subject it does not belong to, and later nights complete", async () => {
    const nc = await nats.connect();
    const store = new JetStreamEventStore(nc);
    const host = new ActorHost(store, soulDecider, { durable: "soul-misplaced" });
    await host.start();
    // A NightStarted the codec accepts, on a training subject: it used to wedge the Soul for good.
    const body = JSON.stringify({ ...meta(), type: "NightStarted", version: 2, data: { nightId: "2026-11-20", day: "2026-11-20", trigger: "cli", untilSeq: 0 } });
    const { seq } = await jetstream(nc).publish(eventSubject("training", "2026-11-20"), body);
    await host.command(startNight("2026-11-21"));
    await waitFor(async () => host.current().nights["2026-11-21"]?.completed === true);
    expect(host.current().nights["2026-11-20"]).toBeUndefined();
    const q = await (await jetstreamManager(nc)).streams.getMessage(QUARANTINE_STREAM, { last_by_subj: `sophont.quarantine.SOPHONT_EVENTS.${seq}` });
    expect(q?.header.get("Sophont-Quarantine-Reason")).toMatch(/misplaced: NightStarted belongs on sophont.evt.night.2026-11-20/);
    const t0 = Date.now();
    await host.stop();
    expect(Date.now() - t0).toBeLessThan(3000);
    store.close();
  });

  it("gives up an event its decider keeps failing on: quarantined with the reason, and the actor moves on", async () => {
    const nc = await nats.connect();
    const store = new JetStreamEventStore(nc);
    const failing: typeof soulDecider = {
      ...soulDecider,
      react: (event, state, ctx) => {
        if (event.type === "NightStarted" && event.data.nightId === "2026-11-22") throw new TypeError("a bug in the decider");
        return soulDecider.react(event, state, ctx);
      },
    };
    const settled: Settled[] = [];
    const host = new ActorHost(store, failing, { durable: "soul-failing", onSettled: (s) => settled.push(s) });
    await host.start();
    await host.command(startNight("2026-11-22"));
    await host.command(startNight("2026-11-23"));
    await waitFor(async () => host.current().nights["2026-11-23"]?.completed === true, 30_000);
    const failed = settled.find((s) => s.type === "failed");
    expect(failed).toMatchObject({ type: "failed", reason: expect.stringMatching(/a bug in the decider/) });
    const q = await collect(quarantined(nc, "soul-failing"));
    expect(q.some((m) => /a bug in the decider/.test(m.reason))).toBe(true);
    await host.stop();
    store.close();
  });

  it("stops within its grace period while the item in hand is stuck", async () => {
    const store = new JetStreamEventStore(await nats.connect());
    let stuck!: () => void;
    const reached = new Promise<void>((r) => (stuck = r));
    const host = new ActorHost(store, soulDecider, {
      durable: "soul-stuck",
      beforeAck: async (item) => {
        if (item.kind !== "event") return;
        stuck();
        await new Promise(() => undefined);
      },
    });
    await host.start();
    await host.command(startNight("2026-11-24"));
    await reached;
    const t0 = Date.now();
    await host.stop(500);
    expect(Date.now() - t0).toBeLessThan(2500);
    store.close();
  });
});

/** The quarantine stream's messages from one consumer, with their reasons. */
async function* quarantined(nc: Awaited<ReturnType<TestNats["connect"]>>, consumer: string): AsyncIterable<{ seq: number; reason: string }> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(QUARANTINE_STREAM);
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(QUARANTINE_STREAM, { seq }).catch(() => null);
    if (m && m.header.get("Sophont-Consumer") === consumer) yield { seq: Number(m.header.get("Sophont-Original-Seq")), reason: m.header.get("Sophont-Quarantine-Reason") };
  }
}
