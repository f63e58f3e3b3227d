import type { Projection } from "./projection.ts";

/** What was taken in on one day. */
export interface DayIntake {
  received: number;
  /** The same text again, from a place not recorded before. */
  repeated: number;
  refused: number;
  bytes: number;
}

export interface InputsSummary {
  received: number;
  repeated: number;
  refused: number;
  forgotten: number;
  readonly byDay: Record<string, DayIntake>;
  /** Refusals by reason (binary, empty, too-large, ...). */
  readonly refusedBy: Record<string, number>;
}

// A plain function, not a closure made per event: folds run once for every event of the log.
const dayOf = (s: InputsSummary, d: string): DayIntake => (s.byDay[d] ??= { received: 0, repeated: 0, refused: 0, bytes: 0 });

/**
 * The intake: how many inputs were received, repeated, refused and forgotten, per day and in all.
 * Its size depends on the number of days, not of inputs: one input's own history is read from its
 * subject when asked (adapters/ingest/known.ts `readInput`), so replaying a long log keeps memory flat.
 * Owned by the fold and updated in place.
 */
export const inputsSummary: Projection<InputsSummary> = {
  name: "inputs",
  version: 3,
  canHandle: ["InputReceived", "InputRepeated", "InputRefused", "InputForgotten"],
  initialState: () => ({ received: 0, repeated: 0, refused: 0, forgotten: 0, byDay: {}, refusedBy: {} }),
  evolve: (s, e) => {
    switch (e.type) {
      case "InputReceived": {
        const today = dayOf(s, e.data.day);
        today.received++;
        today.bytes += e.data.bytes;
        s.received++;
        return s;
      }
      case "InputRepeated":
        dayOf(s, e.data.day).repeated++;
        s.repeated++;
        return s;
      case "InputRefused":
        dayOf(s, e.data.day).refused++;
        s.refused++;
        s.refusedBy[e.data.reason] = (s.refusedBy[e.data.reason] ?? 0) + 1;
        return s;
      case "InputForgotten":
        s.forgotten++;
        return s;
      default:
        return s;
    }
  },
};
