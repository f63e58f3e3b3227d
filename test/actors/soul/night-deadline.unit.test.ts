import { describe, expect, it } from "vitest";
import type { DecideContext } from "../../../actors/decider.ts";
import { nightsPastDeadline, soulDecider } from "../../../actors/soul/soul.decider.ts";
import { lateJobs, trainingDecider } from "../../../actors/soul/training.decider.ts";
import { tinyRecipe } from "../../../actors/muscle/request.ts";
import type { DomainEvent } from "../../../events/catalogue.ts";
import type { Recorded } from "../../../events/envelope.ts";

const START = "2026-11-25T02:00:00.000Z";
const DEADLINE = "2026-11-25T06:00:00.000Z";
const AFTER = "2026-11-25T06:00:05.000Z";
const ctx = (now: string): DecideContext => ({ now, position: 100 });
let seq = 0;
const recorded = (event: DomainEvent, time = START): Recorded<DomainEvent> =>
  ({ ...event, writtenVersion: 3, seq: ++seq, subject: "s", storedAt: Date.parse(time), metadata: { id: `e${seq}`, time, actor: "t", causationId: null, correlationId: "c" } }) as Recorded<DomainEvent>;

const policy = { version: "p1", acceptSimilarity: 0.5, minSurprise: -4, incoherentSurprise: 6, uniformFraction: 0.9 };
const models = { model: "m", adapter: null, embedder: "e" };
const input = (id: string): DomainEvent => ({ type: "InputReceived", data: { inputId: id, day: "2026-11-24", source: { path: "a", format: "text", index: 0 }, bytes: 1, contentSha256: `sha-${id}` } });
const accepted = (id: string, nightId: string): DomainEvent => ({ type: "InputAccepted", data: { inputId: id, nightId, reason: "r", policy, models, nearest: "preoccupation", similarity: 0.9, surprise: 0, questionVector: [1] } });
const started = (nightId: string, untilSeq: number, deadlineAt?: string): DomainEvent => ({ type: "NightStarted", data: { nightId, day: nightId, trigger: "schedule", untilSeq, ...(deadlineAt ? { deadlineAt } : {}) } });

const soulState = (events: DomainEvent[]) => events.map((e) => recorded(e)).reduce(soulDecider.evolve, soulDecider.initialState());

describe("a night's deadline, in the Soul's decider", () => {
  it("records the deadline a StartNight brings, and refuses one already past", () => {
    expect(soulDecider.handle({ type: "StartNight", day: "2026-11-25", trigger: "schedule", deadlineAt: DEADLINE }, soulDecider.initialState(), ctx(START))).toEqual([
      { event: { type: "NightStarted", data: { nightId: "2026-11-25", day: "2026-11-25", trigger: "schedule", untilSeq: 100, deadlineAt: DEADLINE } }, expectedSubjectSeq: 0 },
    ]);
    expect(() => soulDecider.handle({ type: "StartNight", day: "2026-11-25", trigger: "cli", deadlineAt: START }, soulDecider.initialState(), ctx(AFTER))).toThrow(/already passed/);
    expect(() => soulDecider.handle({ type: "StartNight", day: "2026-11-25", trigger: "cli", deadlineAt: "06:00" }, soulDecider.initialState(), ctx(START))).toThrow(/ISO time/);
  });

  it("does nothing before the deadline, and at it ends the night saying how many inputs were left", () => {
    const state = soulState([input("a"), input("b"), input("c"), started("2026-11-25", 3, DEADLINE), accepted("a", "2026-11-25")]);
    expect(nightsPastDeadline(state, Date.parse(DEADLINE) - 1)).toEqual([]);
    expect(soulDecider.handle({ type: "CutOffNights" }, state, ctx("2026-11-25T05:59:59.000Z"))).toEqual([]);
    const [d, ...rest] = soulDecider.handle({ type: "CutOffNights" }, state, ctx(AFTER));
    expect(rest).toEqual([]);
    expect(d!.expectedSubjectSeq).toBe(4); // NightStarted's own position: a completion that won the race makes this a conflict
    expect(d!.event).toMatchObject({
      type: "NightCompleted",
      data: { nightId: "2026-11-25", counts: { accepted: 1, rejected: 0 }, durationMs: 4 * 3600_000 + 5000, cutOff: { reason: "deadline", deadlineAt: DEADLINE, left: 2 } },
    });
    soulDecider.evolve(state, recorded(d!.event, AFTER));
    expect(() => soulDecider.handle({ type: "StartNight", day: "2026-11-25", trigger: "cli" }, state, ctx(AFTER))).toThrow(/cut off at its deadline: what it left is judged by the next night's window/);
  });

  it("leaves the undecided inputs to the next night, which completes when they are decided (even under the old night's name)", () => {
    seq = 0;
    const cut = soulDecider.handle({ type: "CutOffNights" }, soulState([input("a"), input("b"), started("n1", 2, DEADLINE)]), ctx(AFTER))[0]!.event;
    seq = 0;
    const state = soulState([input("a"), input("b"), started("n1", 2, DEADLINE), cut, input("c"), started("n2", 5)]);
    expect(state.nights.n2!.pending).toBe(3);
    expect(nightsPastDeadline(state, Date.parse(AFTER))).toEqual([]); // n1 is over; n2 has no deadline
    // A decision of the cut night still in flight lands after n2 started: it counts for n2's window too.
    const r1 = recorded(accepted("a", "n1"));
    soulDecider.evolve(state, r1);
    expect(soulDecider.react(r1, state, ctx(AFTER))).toEqual([]);
    for (const id of ["b", "c"]) soulDecider.evolve(state, recorded(accepted(id, "n2")));
    const last = recorded(accepted("c", "n2"));
    const decisions = soulDecider.react(last, state, ctx(AFTER));
    expect(decisions.map((x) => x.event)).toMatchObject([{ type: "NightCompleted", data: { nightId: "n2", cutOff: null, counts: { accepted: 2 } } }]);
  });
});

const settings = { minNewSft: 2, minNewPairs: 2, maxJobsPerDay: 5, host: null, recipe: tinyRecipe, jobMinutes: 60, baseModelSha256: "base" };
const training = trainingDecider(settings);
const request = (jobId: string, nightId: string | null, deadlineMs: number): DomainEvent => ({
  type: "TrainingRequested",
  data: {
    jobId, host: null, baseModelSha256: "base", recipe: tinyRecipe, ledger: { atSeq: 0, sft: [], heldOut: [], anchor: [], shadow: [] }, mergeWith: [], deadlineMs, requestedBy: nightId ? "soul" : "cli",
    ...(nightId ? { rule: { name: "new-sft", nightId, numbers: { newSft: 2, minNewSft: 2, newPairs: 0, minNewPairs: 2, jobsToday: 0, maxJobsPerDay: 5, running: 0, msToDeadline: 1 } } } : {}),
  },
});

describe("a night's deadline, in the Soul's training decider", () => {
  it("defers the request of a night that ended at its deadline, saying so", () => {
    const events = [input("a"), accepted("a", "n1"), input("b"), accepted("b", "n1"), started("n1", 4, DEADLINE)].map((e) => recorded(e));
    const state = events.reduce(training.evolve, training.initialState());
    const end = recorded({ type: "NightCompleted", data: { nightId: "n1", counts: { accepted: 2, rejected: 0, shadow: 0, refused: 0, dropped: 0 }, durationMs: 1, cutOff: { reason: "deadline", deadlineAt: DEADLINE, left: 3, detail: "d" } } }, AFTER);
    const out = training.react(end, training.evolve(state, end), ctx(AFTER));
    expect(out.map((d) => d.event)).toMatchObject([{ type: "TrainingDeferred", data: { nightId: "n1", reason: "past-deadline", numbers: { newSft: 2, msToDeadline: -5000 } } }]);
  });

  it("cancels a job still running past its night's deadline, or past its own, with the reason; once", () => {
    const events = [
      recorded(started("n1", 0, DEADLINE)),
      recorded(request("soul-n1-1", "n1", 4.5 * 3600_000)), // its own deadline (06:30) is after the night's
      recorded(request("cli-1", null, 30 * 60_000), "2026-11-25T05:00:00.000Z"), // 05:30
      recorded(request("cli-2", null, 12 * 3600_000)),
      recorded(request("done", "n1", 3600_000)),
      recorded({ type: "AdapterRolledBack", data: { jobId: "done", adapterSha256: "x", servingSha256: null, reason: "r" } }),
    ];
    const state = events.reduce(training.evolve, training.initialState());
    expect(lateJobs(state, Date.parse("2026-11-25T05:00:00.000Z"))).toEqual([]);
    expect(lateJobs(state, Date.parse("2026-11-25T05:45:00.000Z")).map((j) => j.jobId)).toEqual(["cli-1"]);
    const out = training.handle({ type: "CancelLateJobs" }, state, ctx(AFTER));
    expect(out.map((d) => d.event)).toEqual([
      { type: "TrainingCancelRequested", data: { jobId: "soul-n1-1", by: "soul", reason: expect.stringMatching(/deadline of night n1 \(2026-11-25T06:00:00.000Z\) passed/) } },
      { type: "TrainingCancelRequested", data: { jobId: "cli-1", by: "soul", reason: expect.stringMatching(/its own deadline \(30 min after its request/) } },
    ]);
    for (const d of out) training.evolve(state, recorded(d.event, AFTER));
    expect(training.handle({ type: "CancelLateJobs" }, state, ctx(AFTER))).toEqual([]);
  });
});
