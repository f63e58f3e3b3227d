import { describe, expect, it } from "vitest";
import type { DecideContext } from "../../../actors/decider.ts";
import { mitosisDecider, type MitosisCommand } from "../../../actors/mitosis/mitosis.decider.ts";
import { mitosisObjections } from "../../../actors/mitosis/mitosis.rules.ts";
import type { AntechamberCluster, MitosisThresholds } from "../../../events/antechamber.ts";
import type { DomainEvent, EventData } from "../../../events/catalogue.ts";
import type { Recorded } from "../../../events/envelope.ts";

const ctx: DecideContext = { now: "2026-11-25T02:00:00.000Z", position: 41 };
const thresholds: MitosisThresholds = { minNights: 3, minMembers: 10, minStability: 20, maxSimilarity: 0.6, approval: "command" };
const drift = { fromPrevious: 0.05, fromBirth: 0.2 };
let seq = 0;
const recorded = (event: DomainEvent): Recorded<DomainEvent> =>
  ({ ...event, writtenVersion: 1, seq: ++seq, subject: "s", storedAt: 0, metadata: { id: `e${seq}`, time: ctx.now, actor: "t", causationId: null, correlationId: "c" } }) as Recorded<DomainEvent>;

/** given(events).when(command | event).then(decisions) */
const given = (t: MitosisThresholds, ...events: DomainEvent[]) => {
  const decider = mitosisDecider({ thresholds: t, drift });
  const history = events.map(recorded);
  const state = history.reduce(decider.evolve, decider.initialState());
  return {
    seqOf: (i: number) => history[i]!.seq,
    when: (command: MitosisCommand, requestedBy = "cli") => ({
      then: (expected: unknown) => expect(decider.handle(command, structuredClone(state), { ...ctx, requestedBy })).toEqual(expected),
      thenThrows: (re: RegExp) => expect(() => decider.handle(command, structuredClone(state), { ...ctx, requestedBy })).toThrow(re),
    }),
    whenEvent: (event: DomainEvent) => {
      const r = recorded(event);
      return { then: (expected: unknown) => expect(decider.react(r, decider.evolve(structuredClone(state), r), ctx)).toEqual(expected), seq: r.seq };
    },
  };
};

const seeded: DomainEvent = { type: "PreoccupationSeeded", data: { questionId: "q1", question: "stars?", vector: [1, 0, 0], embedder: "e" } };
const cluster = (over: Partial<AntechamberCluster> = {}): AntechamberCluster => ({
  clusterId: "ac-2026-11-04-0", members: Array.from({ length: 12 }, (_, i) => `i${i}`), centroid: [0, 1, 0], size: 12, stability: 50, density: 0.7, age: 3, bornNight: "2026-11-04", matchedBy: "overlap", ...over,
});
const clustered = (...clusters: AntechamberCluster[]): DomainEvent => ({
  type: "AntechamberClustered",
  data: { nightId: "2026-11-06", points: 30, noise: 18, params: { minClusterSize: 5, minSamples: 4, metric: "cosine", epsilon: 0.5, windowNights: 3, matchOverlap: 0.3, matchSimilarity: 0.9 }, clusters },
});
const proposal = (t = thresholds): EventData<"MitosisProposed"> => ({
  proposalId: "mitosis-ac-2026-11-04-0", clusterId: "ac-2026-11-04-0", nightId: "2026-11-06", centroid: [0, 1, 0], size: 12, seen: 12, age: 3, stability: 50, density: 0.7, nearest: { centroidId: "preoccupation", similarity: 0 }, thresholds: t,
});
const proposed = (t = thresholds): DomainEvent => ({ type: "MitosisProposed", data: proposal(t) });
const born = { type: "SatelliteBorn", data: { satelliteId: "satellite-ac-2026-11-04-0", proposalId: "mitosis-ac-2026-11-04-0", clusterId: "ac-2026-11-04-0", vector: [0, 1, 0], members: 12 } };

describe("Mitosis rules", () => {
  it("names every rule a cluster fails, with the thresholds", () => {
    expect(mitosisObjections(cluster(), { similarity: 0.1 }, thresholds)).toEqual([]);
    expect(mitosisObjections(cluster({ age: 2, size: 9, stability: 5 }), { similarity: 0.7 }, thresholds)).toEqual([
      "found on 2 night(s) < 3", "9 member(s) over its life < 10", "stability 5.00 < 20", "similarity 0.700 to an existing centroid >= 0.6",
    ]);
  });

  it("counts the members a cluster held over its life, not only tonight's window", () => {
    expect(mitosisObjections(cluster({ size: 6, seen: 11 }), { similarity: 0.1 }, thresholds)).toEqual([]);
    expect(mitosisObjections(cluster({ size: 6, seen: 9 }), { similarity: 0.1 }, thresholds)).toEqual(["9 member(s) over its life < 10"]);
  });
});

describe("Mitosis decider", () => {
  it("given a seeded preoccupation, when a lasting, dense, distant cluster is reported, then a mitosis is proposed once, guarded", () =>
    given(thresholds, seeded).whenEvent(clustered(cluster())).then([{ event: proposed(), expectedSubjectSeq: 0 }]));

  it("when the cluster is too young, too small, unstable or close to the preoccupation, then nothing is proposed", () => {
    for (const c of [cluster({ age: 2 }), cluster({ size: 9 }), cluster({ stability: 19 }), cluster({ centroid: [0.8, 0.6, 0] })]) given(thresholds, seeded).whenEvent(clustered(c)).then([]);
  });

  it("given a proposal for the cluster already, when it is reported again a night older, then no second proposal", () =>
    given(thresholds, seeded, proposed()).whenEvent(clustered(cluster({ age: 4 }))).then([]));

  it("given a satellite born of a cluster, when a new cluster appears next to it, then it is the satellite's and not proposed", () =>
    given(thresholds, seeded, born as DomainEvent).whenEvent(clustered(cluster({ clusterId: "ac-2026-11-09-0" }))).then([]));

  it("with automatic approval, a proposal is approved at once and the satellite born", () => {
    const auto = { ...thresholds, approval: "auto" as const };
    const g = given(auto, seeded);
    const r = g.whenEvent(proposed(auto));
    r.then([
      { event: { type: "MitosisApproved", data: { proposalId: "mitosis-ac-2026-11-04-0", by: "mitosis", automatic: true } }, expectedSubjectSeq: r.seq },
      { event: born, expectedSubjectSeq: 0 },
    ]);
  });

  it("waiting for a command, a proposal is approved by it, or declined; a decided proposal refuses another decision", () => {
    const g = given(thresholds, seeded, proposed());
    g.whenEvent({ type: "NightStarted", data: { nightId: "x", day: "x", trigger: "cli", untilSeq: 0 } }).then([]);
    g.when({ type: "ApproveMitosis", proposalId: "mitosis-ac-2026-11-04-0" }, "agent").then([
      { event: { type: "MitosisApproved", data: { proposalId: "mitosis-ac-2026-11-04-0", by: "agent", automatic: false } }, expectedSubjectSeq: g.seqOf(1) },
      { event: born, expectedSubjectSeq: 0 },
    ]);
    g.when({ type: "DeclineMitosis", proposalId: "mitosis-ac-2026-11-04-0", reason: "not our field" }).then([
      { event: { type: "MitosisDeclined", data: { proposalId: "mitosis-ac-2026-11-04-0", by: "cli", reason: "not our field" } }, expectedSubjectSeq: g.seqOf(1) },
    ]);
    given(thresholds, seeded).when({ type: "ApproveMitosis", proposalId: "nope" }).thenThrows(/no mitosis proposal nope/);
    const declined: DomainEvent = { type: "MitosisDeclined", data: { proposalId: "mitosis-ac-2026-11-04-0", by: "cli", reason: "no" } };
    given(thresholds, seeded, proposed(), declined).when({ type: "ApproveMitosis", proposalId: "mitosis-ac-2026-11-04-0" }).thenThrows(/already declined/);
  });

  it("reports drift when a night moves a centroid past a threshold, with the thresholds", () => {
    const policy = { version: "p", acceptSimilarity: 0.3, minSurprise: -3, incoherentSurprise: 4, uniformFraction: 0.85 };
    const models = { model: "m", adapter: null, embedder: "e" };
    const accepted: DomainEvent = { type: "InputAccepted", data: { inputId: "i1", nightId: "n1", reason: "r", policy, models, nearest: "preoccupation", similarity: 0.5, surprise: 0, questionVector: [0, 1, 0] } };
    const completed: DomainEvent = { type: "NightCompleted", data: { nightId: "n1", counts: { accepted: 1, rejected: 0, shadow: 0, refused: 0, dropped: 0 }, durationMs: 1, cutOff: null } };
    // A night pulls a centroid a tenth of the way: towards an orthogonal question, 1 - cos(atan(1/9)) = 0.0061.
    const tight = { fromPrevious: 0.005, fromBirth: 0.5 };
    const decider = mitosisDecider({ thresholds, drift: tight });
    const state = [seeded, accepted].map(recorded).reduce(decider.evolve, decider.initialState());
    const night = recorded(completed);
    const decisions = decider.react(night, decider.evolve(structuredClone(state), night), ctx);
    // Every move is reported with its numbers; the drift only past a threshold.
    expect(decisions.map((x) => x.event.type)).toEqual(["CentroidMoved", "DriftDetected"]);
    expect(decisions[0]!.event).toMatchObject({ type: "CentroidMoved", data: { centroidId: "preoccupation", nightId: "n1", accepted: 1, moved: 1, anchored: false, limits: { rate: 0.1 } } });
    expect(decisions[1]!.event).toMatchObject({ type: "DriftDetected", data: { centroidId: "preoccupation", nightId: "n1", thresholds: tight } });
    expect(mitosisDecider({ thresholds, drift: { fromPrevious: 0.007, fromBirth: 0.5 } }).react(night, decider.evolve(structuredClone(state), night), ctx).map((x) => x.event.type)).toEqual(["CentroidMoved"]);
    const d = decisions[1]!.event.data as EventData<"DriftDetected">;
    expect(d.fromBirth).toBeCloseTo(1 - 0.9 / Math.hypot(0.9, 0.1), 6);
    expect(d.fromPrevious).toBeCloseTo(d.fromBirth, 9);
  });
});
