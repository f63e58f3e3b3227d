import { describe, expect, it } from "vitest";
import { initialTransition, transition } from "xstate";
import { backoffDelay, lifecycleMachine, MAX_ATTEMPTS } from "../../actors/machine.ts";
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
    // A fourth conflict will not go away by waiting: the item is given up (quarantined), not retried forever.
    s = transition(lifecycleMachine, s, failed("append", new ConcurrencyError("s", 1, "x")))[0];
    expect(s.value).toBe("failing");
    expect(s.context.error).toMatch(/still conflicting/);
  });

  it("retries a write the server refuses a bounded number of times, then gives the item up", () => {
    const at = (attempt: number) => ({ ...appending(), context: { ...appending().context, attempt } }) as ReturnType<typeof appending>;
    for (let a = 0; a < MAX_ATTEMPTS; a++) expect(transition(lifecycleMachine, at(a), failed("append", new StoreError("maximum payload exceeded")))[0].value).toBe("backoff");
    const [failing] = transition(lifecycleMachine, at(MAX_ATTEMPTS), failed("append", new StoreError("maximum payload exceeded")));
    expect(failing.value).toBe("failing");
    expect(failing.context.error).toMatch(/maximum payload exceeded/);
    const [idle, actions] = transition(lifecycleMachine, failing, done("quarantine", undefined));
    expect(idle.value).toBe("idle");
    expect(actions.some((a) => (a.type as string) === "xstate.emit")).toBe(true);
  });

  it("keeps retrying a store that does not answer, and stops from any state", () => {
    const s = { ...appending(), context: { ...appending().context, attempt: 99 } } as ReturnType<typeof appending>;
    expect(transition(lifecycleMachine, s, failed("append", new StoreError("no ack", { transient: true })))[0].value).toBe("backoff");
    expect(transition(lifecycleMachine, s, failed("append", new StoreError("refused")))[0].value).toBe("failing");
    for (const state of [deciding(), appending()]) expect(transition(lifecycleMachine, state, { type: "STOP" })[0].status).toBe("done");
  });

  it("gives up an item whose decision throws (a bug), after bounded retries", () => {
    const s = { ...deciding(), context: { ...deciding().context, attempt: MAX_ATTEMPTS } } as ReturnType<typeof deciding>;
    expect(transition(lifecycleMachine, deciding(), failed("decide", new TypeError("x is undefined")))[0].value).toBe("backoff");
    const [failing] = transition(lifecycleMachine, s, failed("decide", new TypeError("x is undefined")));
    expect(failing.value).toBe("failing");
    expect(failing.context.error).toMatch(/x is undefined/);
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
