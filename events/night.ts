import { Schema } from "effect";
import { defineEvent } from "./define.ts";

const NightStartedV1 = Schema.Struct({ nightId: Schema.String, day: Schema.String });

/** What started a night: the CLI, the Soul's own schedule, or an outside agent. */
export const NightTrigger = Schema.Literals(["cli", "schedule", "agent", "unknown"]);

export const NightStarted = defineEvent({
  type: "NightStarted",
  family: "night",
  description: "The Soul opened a night over the inputs received up to a stream position.",
  schema: Schema.Struct({
    nightId: Schema.String,
    day: Schema.String,
    trigger: NightTrigger,
    /** Inputs stored at or before this sequence belong to the night's window. */
    untilSeq: Schema.Finite,
    /** When the night must stop (ISO time, from config.json's night window); absent: no deadline. */
    deadlineAt: Schema.optional(Schema.String),
  }),
  entity: (d) => d.nightId,
  past: [
    {
      version: 1,
      schema: NightStartedV1,
      // v1 recorded neither the trigger nor the window's end: say so rather than guess.
      upcast: (d: typeof NightStartedV1.Type) => ({ ...d, trigger: "unknown", untilSeq: 0 }),
    },
  ],
});

const NightCompletedV1 = Schema.Struct({
  nightId: Schema.String,
  counts: Schema.Struct({ accepted: Schema.Finite, rejected: Schema.Finite, shadow: Schema.Finite, refused: Schema.Finite }),
  durationMs: Schema.Finite,
});

const NightCounts = Schema.Struct({
  accepted: Schema.Finite,
  rejected: Schema.Finite,
  shadow: Schema.Finite,
  refused: Schema.Finite,
  /** Inputs of the window that could not be judged (InputDropped: forgotten, or their text missing). */
  dropped: Schema.Finite,
});

const NightCompletedV2 = Schema.Struct({ nightId: Schema.String, counts: NightCounts, durationMs: Schema.Finite });

/** Why a night ended before every input of its window was decided, and how many were left. */
export const NightCutOff = Schema.Struct({
  reason: Schema.Literal("deadline"),
  /** The deadline it reached (ISO time, NightStarted's deadlineAt). */
  deadlineAt: Schema.String,
  /** Inputs of the window still undecided: they stay pending, and the next night's window takes them. */
  left: Schema.Finite,
  detail: Schema.String,
});

export const NightCompleted = defineEvent({
  type: "NightCompleted",
  family: "night",
  description: "The night ended: every input of its window decided, or its deadline reached (cutOff says how many were left and why); counts and timings.",
  schema: Schema.Struct({
    ...NightCompletedV2.fields,
    /** Null: every input of the window was decided. Otherwise the night was cut off at its deadline. */
    cutOff: Schema.NullOr(NightCutOff),
  }),
  entity: (d) => d.nightId,
  past: [
    {
      version: 1,
      schema: NightCompletedV1,
      // v1 had no InputDropped: every input of its windows was judged.
      upcast: (d: typeof NightCompletedV1.Type) => ({ ...d, counts: { ...d.counts, dropped: 0 } }),
    },
    {
      version: 2,
      schema: NightCompletedV2,
      // v2 nights had no deadline: each ended with its whole window decided.
      upcast: (d: typeof NightCompletedV2.Type) => ({ ...d, cutOff: null }),
    },
  ],
});
