import { describe, expect, it } from "vitest";
import { Refusal, type DecideContext } from "../../../actors/decider.ts";
import { soulDecider, type SoulCommand } from "../../../actors/soul/soul.decider.ts";
import type { DomainEvent } from "../../../events/catalogue.ts";
import type { Recorded } from "../../../events/envelope.ts";

const ctx: DecideContext = { now: "2026-11-25T02:00:00.000Z", position: 41 };
let seq = 0;
const recorded = (event: DomainEvent): Recorded<DomainEvent> =>
  ({ ...event, writtenVersion: 1, seq: ++seq, subject: "s", storedAt: 0, metadata: { id: `e${seq}`, time: ctx.now, actor: "t", causationId: null, correlationId: "c" } }) as Recorded<DomainEvent>;

/** given(events).when(command).then(decisions) */
const given = (...events: DomainEvent[]) => {
  const state = events.map(recorded).reduce(soulDecider.evolve, soulDecider.initialState());
  return {
    when: (command: SoulCommand) => ({
      then: (expected: unknown) => expect(soulDecider.handle(command, state, ctx)).toEqual(expected),
      thenThrows: (re: RegExp) => expect(() => soulDecider.handle(command, state, ctx)).toThrow(re),
    }),
    // The host folds the event before the actor reacts to it.
    whenEvent: (event: DomainEvent) => {
      const r = recorded(event);
      return { then: (expected: unknown) => expect(soulDecider.react(r, soulDecider.evolve(state, r), ctx)).toEqual(expected) };
    },
  };
};

const started = (day: string, untilSeq = 10): DomainEvent => ({ type: "NightStarted", data: { nightId: day, day, trigger: "cli", untilSeq } });
const policy = { version: "p1", acceptSimilarity: 0.5, minSurprise: -4, incoherentSurprise: 6, uniformFraction: 0.9 };
const models = { model: "m", adapter: null, embedder: "e" };
const accepted = (id: string): DomainEvent => ({ type: "InputAccepted", data: { inputId: id, nightId: "2026-11-25", reason: "r", policy, models, nearest: "preoccupation", similarity: 0.9, surprise: 0, questionVector: [1] } });
const rejected = (id: string): DomainEvent => ({ type: "InputRejected", data: { inputId: id, nightId: "2026-11-25", reason: "r", policy, models, cause: "off-topic", nearest: "preoccupation", similarity: 0.1, questionVector: [1] } });
const refused = (id: string): DomainEvent => ({ type: "InputRefused", data: { refusalId: id, day: "2026-11-24", source: { path: "a", format: "text", index: 0 }, reason: "binary", detail: "", bytes: 1 } });
const input = (id: string): DomainEvent => ({ type: "InputReceived", data: { inputId: id, day: "2026-11-24", source: { path: "a", format: "text", index: 0 }, bytes: 1, contentSha256: id } });

describe("Soul decider", () => {
  it("opens a night over the log as it is, guarded against a second writer", () =>
    given().when({ type: "StartNight", day: "2026-11-25", trigger: "cli" }).then([
      { event: { type: "NightStarted", data: { nightId: "2026-11-25", day: "2026-11-25", trigger: "cli", untilSeq: 41 } }, expectedSubjectSeq: 0 },
    ]));

  it("refuses a second night for the same day, and a malformed day", () => {
    given(started("2026-11-25")).when({ type: "StartNight", day: "2026-11-25", trigger: "cli" }).thenThrows(/already started/);
    given().when({ type: "StartNight", day: "25/11/2026", trigger: "cli" }).thenThrows(/YYYY-MM-DD/);
    expect(() => soulDecider.handle({ type: "StartNight", day: "x", trigger: "cli" }, soulDecider.initialState(), ctx)).toThrow(Refusal);
  });

  it("completes a night with nothing to decide as soon as it starts, counting the refusals since the last night", () =>
    given(refused("r1")).whenEvent(started("2026-11-25")).then([
      {
        event: { type: "NightCompleted", data: { nightId: "2026-11-25", counts: { accepted: 0, rejected: 0, shadow: 0, refused: 1, dropped: 0 }, durationMs: 0, cutOff: null } },
        expectedSubjectSeq: expect.any(Number),
      },
    ]));

  it("leaves a night open while inputs of its window wait for a decision", () => given(input("a")).whenEvent(started("2026-11-25", 1000)).then([]));

  it("closes the night with its counts when the last input of the window is decided", () => {
    given(input("a"), input("b"), started("2026-11-25", 1000), accepted("a")).whenEvent(rejected("b")).then([
      {
        event: { type: "NightCompleted", data: { nightId: "2026-11-25", counts: { accepted: 1, rejected: 1, shadow: 0, refused: 0, dropped: 0 }, durationMs: 0, cutOff: null } },
        expectedSubjectSeq: expect.any(Number),
      },
    ]);
    given(input("a"), input("b"), started("2026-11-25", 1000)).whenEvent(accepted("a")).then([]);
  });
});
