import { describe, expect, it } from "vitest";
import type { DecideContext } from "../../../actors/decider.ts";
import { tinyRecipe } from "../../../actors/muscle/request.ts";
import { trainingDecider } from "../../../actors/soul/training.decider.ts";
import type { TrainingRuleSettings } from "../../../actors/soul/training.rule.ts";
import type { DomainEvent, EventData } from "../../../events/catalogue.ts";
import type { Recorded } from "../../../events/envelope.ts";

const NOW = "2026-11-25T02:00:00.000Z";
const settings: TrainingRuleSettings = { minNewSft: 4, minNewPairs: 2, maxJobsPerDay: 2, host: null, recipe: tinyRecipe, jobMinutes: 60, baseModelSha256: "base" };
const decider = trainingDecider(settings);
const ctx = (now = NOW): DecideContext => ({ now, position: 1000 });

let seq = 0;
const recorded = (event: DomainEvent, time = NOW): Recorded<DomainEvent> =>
  ({ ...event, writtenVersion: 1, seq: ++seq, subject: "s", storedAt: 0, metadata: { id: `e${seq}`, time, actor: "t", causationId: null, correlationId: "c" } }) as Recorded<DomainEvent>;

const policy = { version: "p1", acceptSimilarity: 0.5, minSurprise: -4, incoherentSurprise: 6, uniformFraction: 0.9 };
const models = { model: "m", adapter: null, embedder: "e" };
const input = (id: string): DomainEvent => ({ type: "InputReceived", data: { inputId: id, day: "2026-11-24", source: { path: "a", format: "text", index: 0 }, bytes: 1, contentSha256: `sha-${id}` } });
const accepted = (id: string, nightId = "2026-11-24"): DomainEvent => ({ type: "InputAccepted", data: { inputId: id, nightId, reason: "r", policy, models, nearest: "preoccupation", similarity: 0.9, surprise: 0, questionVector: [1] } });
const shadow = (id: string, corrected: string | null): DomainEvent => ({ type: "ShadowRecorded", data: { inputId: id, nightId: "2026-11-24", reason: "r", policy, models, promptSha256: `p-${id}`, rejectedSha256: `r-${id}`, correctedSha256: corrected } });
const started = (nightId: string, deadlineAt?: string): DomainEvent => ({ type: "NightStarted", data: { nightId, day: nightId, trigger: "schedule", untilSeq: 0, ...(deadlineAt ? { deadlineAt } : {}) } });
const completed = (nightId: string): DomainEvent => ({ type: "NightCompleted", data: { nightId, counts: { accepted: 0, rejected: 0, shadow: 0, refused: 0, dropped: 0 }, durationMs: 0, cutOff: null } });
const sft = (...ids: string[]) => ids.flatMap((id) => [input(id), accepted(id)]);

/** given(events).whenEvent(event, now).then(decisions): the host folds the event before reacting. */
const given = (...events: Array<DomainEvent | Recorded<DomainEvent>>) => {
  const state = events.map((e) => ("seq" in e ? e : recorded(e))).reduce(decider.evolve, decider.initialState());
  return {
    whenEvent: (event: DomainEvent, now = NOW) => {
      const r = recorded(event);
      return decider.react(r, decider.evolve(state, r), ctx(now));
    },
  };
};

const requested = (decisions: ReturnType<typeof decider.react>) => decisions.map((d) => d.event).find((e) => e.type === "TrainingRequested")?.data as EventData<"TrainingRequested"> | undefined;

describe("the Soul's training rule", () => {
  it("stays quiet while the ledgers hold fewer new entries than the thresholds", () => {
    expect(given(...sft("a", "b", "c"), started("n1")).whenEvent(completed("n1"))).toEqual([]);
  });

  it("requests a job after a night with enough new SFT entries, naming the rule and its numbers", () => {
    const decisions = given(...sft("a", "b", "c", "d", "e"), started("n1")).whenEvent(completed("n1"));
    const r = requested(decisions)!;
    expect(decisions[0]!.expectedSubjectSeq).toBe(0);
    expect(r.requestedBy).toBe("soul");
    expect(r.jobId).toBe("soul-n1-1");
    expect(r.rule).toEqual({ name: "new-sft", nightId: "n1", numbers: { newSft: 5, minNewSft: 4, newPairs: 0, minNewPairs: 2, jobsToday: 0, maxJobsPerDay: 2, running: 0, msToDeadline: null } });
    expect(r.ledger.sft.length + r.ledger.heldOut.length).toBe(5);
    expect(r.deadlineMs).toBe(60 * 60_000);
  });

  it("fires on new preference pairs: corrected Shadow entries only", () => {
    const decisions = given(...sft("a", "b"), input("s1"), shadow("s1", "c1"), input("s2"), shadow("s2", "c2"), input("s3"), shadow("s3", null), started("n1")).whenEvent(completed("n1"));
    expect(requested(decisions)?.rule?.name).toBe("new-pairs");
    expect(requested(decisions)?.rule?.numbers.newPairs).toBe(2);
  });

  it("does not count what a promoted adapter has seen, but counts what a rolled-back one saw", () => {
    const first = requested(given(...sft("a", "b", "c", "d"), started("n1")).whenEvent(completed("n1")))!;
    const promoted = [recorded({ type: "TrainingRequested", data: first }), { type: "AdapterPromoted", data: { jobId: first.jobId, adapterSha256: "x", previousSha256: null } } as DomainEvent];
    expect(given(...sft("a", "b", "c", "d"), ...promoted, ...sft("e", "f"), started("n2")).whenEvent(completed("n2"))).toEqual([]);
    const rolledBack = [recorded({ type: "TrainingRequested", data: first }), { type: "AdapterRolledBack", data: { jobId: first.jobId, adapterSha256: "x", servingSha256: null, reason: "r" } } as DomainEvent];
    expect(requested(given(...sft("a", "b", "c", "d"), ...rolledBack, started("n2")).whenEvent(completed("n2")))?.jobId).toBe("soul-n2-1");
  });

  it("defers while a job runs, and decides again when that job ends", () => {
    const first = requested(given(...sft("a", "b", "c", "d"), started("n1")).whenEvent(completed("n1")))!;
    const running = [...sft("a", "b", "c", "d"), recorded({ type: "TrainingRequested", data: first }), started("n2")];
    const deferred = given(...running).whenEvent(completed("n2"));
    expect(deferred.map((d) => d.event)).toEqual([{ type: "TrainingDeferred", data: { nightId: "n2", rule: "new-sft", reason: "job-running", detail: "1 job(s) not over yet", numbers: expect.objectContaining({ running: 1, newSft: 4 }) } }]);
    const after = given(...running, completed("n2"), deferred[0]!.event).whenEvent({ type: "TrainingFailed", data: { jobId: first.jobId, stage: "s", kind: "trainer", error: "e", exitCode: 1, lastLines: [] } });
    expect(requested(after)?.jobId).toBe("soul-n2-1");
    // No deferral was waiting: a job's end alone requests nothing.
    expect(given(...running, completed("n2")).whenEvent({ type: "TrainingFailed", data: { jobId: first.jobId, stage: "s", kind: "trainer", error: "e", exitCode: 1, lastLines: [] } })).toEqual([]);
  });

  it("a job that never started stops counting as running after its deadline", () => {
    const first = requested(given(...sft("a", "b", "c", "d"), started("n1")).whenEvent(completed("n1")))!;
    const later = "2026-11-25T03:30:00.000Z";
    expect(requested(given(...sft("a", "b", "c", "d"), recorded({ type: "TrainingRequested", data: first }), started("n2")).whenEvent(completed("n2"), later))?.jobId).toBe("soul-n2-1");
  });

  it("keeps to the day's budget, counting every job requested that UTC day", () => {
    const over = (id: string): Array<DomainEvent | Recorded<DomainEvent>> => [
      recorded({ type: "TrainingRequested", data: { ...requested(given(...sft("a", "b", "c", "d"), started("n0")).whenEvent(completed("n0")))!, jobId: id, requestedBy: "cli" } }),
      { type: "TrainingFailed", data: { jobId: id, stage: "s", kind: "trainer", error: "e", exitCode: 1, lastLines: [] } },
    ];
    const d = given(...sft("a", "b", "c", "d"), ...over("j1"), ...over("j2"), started("n1")).whenEvent(completed("n1"));
    expect(d.map((x) => x.event)).toEqual([{ type: "TrainingDeferred", data: expect.objectContaining({ reason: "daily-budget", numbers: expect.objectContaining({ jobsToday: 2, maxJobsPerDay: 2 }) }) }]);
    // The next UTC day has a fresh budget.
    expect(requested(given(...sft("a", "b", "c", "d"), ...over("j1"), ...over("j2"), started("n1")).whenEvent(completed("n1"), "2026-11-26T02:00:00.000Z"))).toBeDefined();
  });

  it("requests nothing after the night's deadline, and shortens a job to the deadline before it", () => {
    const past = given(...sft("a", "b", "c", "d"), started("n1", "2026-11-25T01:00:00.000Z")).whenEvent(completed("n1"));
    expect(past.map((x) => x.event)).toEqual([{ type: "TrainingDeferred", data: expect.objectContaining({ reason: "past-deadline", numbers: expect.objectContaining({ msToDeadline: -3_600_000 }) }) }]);
    const soon = requested(given(...sft("a", "b", "c", "d"), started("n1", "2026-11-25T02:20:00.000Z")).whenEvent(completed("n1")));
    expect(soon?.deadlineMs).toBe(20 * 60_000);
  });
});
