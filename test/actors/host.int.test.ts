import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { ActorHost } from "../../actors/host.ts";
import { Refusal } from "../../actors/decider.ts";
import { soulDecider, type SoulCommand } from "../../actors/soul/soul.decider.ts";
import type { Settled } from "../../actors/machine.ts";
import { JetStreamEventStore } from "../../adapters/nats/event-store.ts";
import { QUARANTINE_STREAM, eventSubject } from "../../events/subjects.ts";
import { startTestNats, type TestNats } from "../support/nats.ts";
import { collect } from "../support/events.ts";

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
});
