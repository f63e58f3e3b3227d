import { describe, expect, it } from "vitest";
import { initialTransition, transition } from "xstate";
import { backoffDelay, lifecycleMachine } from "../../actors/machine.ts";
import { ConcurrencyError, StoreError } from "../../events/store.ts";
import { Refusal } from "../../actors/decider.ts";

const item = { kind: "event" as const, causeId: "e1" };
const done = (id: string, output: unknown) => ({ type: `xstate.done.actor.${id}`, output }) as never;
const failed = (id: string, error: unknown) => ({ type: `xstate.error.actor.${id}`, error }) as never;
const decision = { event: { type: "NightCompleted", data: {} } };

const deciding = () => {
  const [s0] = initialTransition(lifecycleMachine);
  return transition(lifecycleMachine, s0, { type: "WORK", item })[0];
};
const appending = () => transition(lifecycleMachine, deciding(), done("decide", [decision]))[0];

describe("actor lifecycle machine (pure transitions)", () => {
  it("goes idle -> deciding on work", () => {
    const s = deciding();
    expect(s.value).toBe("deciding");
    expect(s.context.item).toBe(item);
  });

  it("appends what was decided, then acks; with nothing decided it acks at once", () => {
    expect(appending().value).toBe("appending");
    expect(transition(lifecycleMachine, deciding(), done("decide", []))[0].value).toBe("acking");
    const [acking] = transition(lifecycleMachine, appending(), done("append", [{ id: "x", seq: 5 }]));
    expect(acking.value).toBe("acking");
    const [idle, actions] = transition(lifecycleMachine, acking, done("ack", undefined));
    expect(idle.value).toBe("idle");
    expect(actions.some((a) => (a.type as string) === "xstate.emit")).toBe(true);
  });

  it("decides again after a concurrency conflict, at most three times", () => {
    let s = appending();
    for (let i = 0; i < 3; i++) {
      s = transition(lifecycleMachine, s, failed("append", new ConcurrencyError("s", 1, "x")))[0];
      expect(s.value).toBe("deciding");
      s = transition(lifecycleMachine, s, done("decide", [decision]))[0];
    }
    s = transition(lifecycleMachine, s, failed("append", new ConcurrencyError("s", 1, "x")))[0];
    expect(s.value).toBe("backoff");
  });

  it("backs off on a store error and refuses what the decider refused", () => {
    expect(transition(lifecycleMachine, appending(), failed("append", new StoreError("down")))[0].value).toBe("backoff");
    const [refusing] = transition(lifecycleMachine, deciding(), failed("decide", new Refusal("no")));
    expect(refusing.value).toBe("refusing");
    expect(refusing.context.error).toBe("no");
  });

  it("stops from idle", () => {
    const [s0] = initialTransition(lifecycleMachine);
    expect(transition(lifecycleMachine, s0, { type: "STOP" })[0].status).toBe("done");
  });

  it("backs off exponentially, capped", () => {
    expect([0, 1, 2, 3].map((a) => backoffDelay(a))).toEqual([100, 200, 400, 800]);
    expect(backoffDelay(30)).toBe(10_000);
  });
});
