import type { DomainEvent } from "../../events/catalogue.ts";
import type { Recorded } from "../../events/envelope.ts";
import { Refusal, type Decider, type Decision } from "../decider.ts";

/** Commands the Soul accepts from the CLI, its schedule and outside agents. */
export type SoulCommand = { readonly type: "StartNight"; readonly day: string; readonly trigger: "cli" | "schedule" | "agent" };

interface NightState {
  readonly untilSeq: number;
  readonly completed: boolean;
}

export interface SoulState {
  readonly nights: Readonly<Record<string, NightState>>;
  /** Inputs received and not yet decided, by id, with the sequence that received them. */
  readonly undecided: Readonly<Record<string, number>>;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

const pendingIn = (state: SoulState, untilSeq: number): number =>
  Object.values(state.undecided).filter((seq) => seq <= untilSeq).length;

const completeNight = (nightId: string): Decision => ({
  event: { type: "NightCompleted", data: { nightId, counts: { accepted: 0, rejected: 0, shadow: 0, refused: 0 }, durationMs: 0 } },
});

/** The Soul opens nights, closes them when every input of the window is decided. */
export const soulDecider: Decider<SoulState, SoulCommand> = {
  actor: "soul",
  initialState: () => ({ nights: {}, undecided: {} }),
  evolve: (state: SoulState, event: Recorded<DomainEvent>): SoulState => {
    switch (event.type) {
      case "NightStarted":
        return { ...state, nights: { ...state.nights, [event.data.nightId]: { untilSeq: event.data.untilSeq, completed: false } } };
      case "NightCompleted": {
        const night = state.nights[event.data.nightId];
        return night ? { ...state, nights: { ...state.nights, [event.data.nightId]: { ...night, completed: true } } } : state;
      }
      case "InputReceived":
        return state.undecided[event.data.inputId] !== undefined
          ? state
          : { ...state, undecided: { ...state.undecided, [event.data.inputId]: event.seq } };
      case "InputRefused":
      case "InputRepeated":
        return state;
      default: {
        const never: never = event;
        return never;
      }
    }
  },
  reactsTo: ["NightStarted"],
  react: (event, state) => {
    if (event.type !== "NightStarted") return [];
    const night = state.nights[event.data.nightId];
    if (night?.completed) return [];
    // Nothing to decide in the window: the night is over as soon as it starts.
    return pendingIn(state, event.data.untilSeq) === 0 ? [completeNight(event.data.nightId)] : [];
  },
  accepts: ["StartNight"],
  handle: (command, state, ctx) => {
    switch (command.type) {
      case "StartNight": {
        if (!DAY.test(command.day)) throw new Refusal(`day must be YYYY-MM-DD, got ${JSON.stringify(command.day)}`);
        const existing = state.nights[command.day];
        if (existing) {
          throw new Refusal(`the night of ${command.day} was already started (window up to seq ${existing.untilSeq}, ${existing.completed ? "completed" : "in progress"})`);
        }
        return [
          {
            event: { type: "NightStarted", data: { nightId: command.day, day: command.day, trigger: command.trigger, untilSeq: ctx.position } },
            expectedSubjectSeq: 0,
          },
        ];
      }
      default: {
        const never: never = command.type;
        return never;
      }
    }
  },
};
