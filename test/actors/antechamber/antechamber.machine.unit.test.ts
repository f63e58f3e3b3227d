import { describe, expect, it } from "vitest";
import { initialTransition, transition } from "xstate";
import { antechamberMachine } from "../../../actors/antechamber/antechamber.machine.ts";
import { initialAntechamberState } from "../../../actors/antechamber/antechamber.state.ts";
import { defaultClusteringParams } from "../../../actors/antechamber/clustering.ts";

const job = { causeId: "e1", seq: 10, nightId: "2026-11-02" };
const done = (id: string, output: unknown) => ({ type: `xstate.done.actor.${id}`, output }) as never;
const failed = (id: string, error: unknown) => ({ type: `xstate.error.actor.${id}`, error }) as never;
const vector = (i: number) => Float32Array.from([1, 0.01 * i, 0]);
const rows = Array.from({ length: 8 }, (_, i) => ({ inputId: `i${i}`, seq: i + 1, nightId: "2026-11-02", vector: vector(i) }));

const loading = () => {
  const [s0] = initialTransition(antechamberMachine, { params: defaultClusteringParams });
  return transition(antechamberMachine, s0, { type: "NIGHT", job })[0];
};
const stateWithNight = () => {
  const s = initialAntechamberState();
  s.completedNights.push("2026-11-02");
  return s;
};

describe("Antechamber night machine (pure transitions)", () => {
  it("loads, decides the clustering, appends it, then acks and tells what it clustered", () => {
    expect(loading().value).toBe("loading");
    const [appending] = transition(antechamberMachine, loading(), done("load", { state: stateWithNight(), rows }));
    expect(appending.value).toBe("appending");
    expect(appending.context.decided).toMatchObject({ nightId: "2026-11-02", points: 8, clusters: [{ clusterId: "ac-2026-11-02-0", size: 8, age: 1 }] });
    const [acking] = transition(antechamberMachine, appending, done("append", undefined));
    expect(acking.value).toBe("acking");
    const [idle, actions] = transition(antechamberMachine, acking, done("ack", undefined));
    expect(idle.value).toBe("idle");
    expect(actions.some((a) => (a.type as string) === "xstate.emit")).toBe(true);
  });

  it("acks at once a night already clustered, or one with nothing to cluster and nothing to carry", () => {
    expect(transition(antechamberMachine, loading(), done("load", null))[0].value).toBe("acking");
    expect(transition(antechamberMachine, loading(), done("load", { state: stateWithNight(), rows: [] }))[0].value).toBe("acking");
  });

  it("backs off and loads again after a failure, and gives up after five attempts", () => {
    let s = transition(antechamberMachine, loading(), failed("load", new Error("lance down")))[0];
    expect(s.value).toBe("retrying");
    expect(s.context.error).toMatch(/lance down/);
    for (let i = 0; i < 5; i++) {
      s = transition(antechamberMachine, s, { type: "xstate.after.retry.antechamber.retrying" } as never)[0];
      expect(s.value).toBe("loading");
      s = transition(antechamberMachine, s, failed("load", new Error("again")))[0];
    }
    expect(s.value).toBe("idle");
  });
});
