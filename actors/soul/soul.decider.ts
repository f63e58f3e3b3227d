import type { DomainEvent } from "../../events/catalogue.ts";
import type { Recorded } from "../../events/envelope.ts";
import { Refusal, type Decider, type Decision } from "../decider.ts";

/** Commands the Soul accepts from the CLI, its schedule and outside agents. */
export type SoulCommand = { readonly type: "StartNight"; readonly day: string; readonly trigger: "cli" | "schedule" | "agent" };

export interface NightCounts {
  readonly accepted: number;
  readonly rejected: number;
  readonly shadow: number;
  readonly refused: number;
}

export interface NightState {
  readonly untilSeq: number;
  /** The stream sequence of NightStarted: the completion expects it to be the night's last event. */
  readonly startedSeq: number;
  readonly startedAt: number;
  readonly completed: boolean;
  readonly counts: NightCounts;
}

export interface SoulState {
  readonly nights: Readonly<Record<string, NightState>>;
  /** Inputs received and not yet decided, by id, with the sequence that received them. */
  readonly undecided: Readonly<Record<string, number>>;
  /** Refusals since the last night started: they are counted in the next night. */
  readonly refusedSinceLastNight: number;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const ZERO: NightCounts = { accepted: 0, rejected: 0, shadow: 0, refused: 0 };

const pendingIn = (state: SoulState, untilSeq: number): number => Object.values(state.undecided).filter((seq) => seq <= untilSeq).length;

const withoutInput = (undecided: Readonly<Record<string, number>>, inputId: string) => {
  const { [inputId]: _gone, ...rest } = undecided;
  return rest;
};

const decided = (state: SoulState, nightId: string, inputId: string, kind: keyof NightCounts): SoulState => {
  const night = state.nights[nightId];
  const undecided = withoutInput(state.undecided, inputId);
  if (!night) return { ...state, undecided };
  return { ...state, undecided, nights: { ...state.nights, [nightId]: { ...night, counts: { ...night.counts, [kind]: night.counts[kind] + 1 } } } };
};

/** Closes the night once nothing in its window waits for a decision. */
const completeIfDone = (state: SoulState, nightId: string, now: number): Decision[] => {
  const night = state.nights[nightId];
  if (!night || night.completed || pendingIn(state, night.untilSeq) > 0) return [];
  return [{
    event: { type: "NightCompleted", data: { nightId, counts: night.counts, durationMs: Math.max(0, now - night.startedAt) } },
    expectedSubjectSeq: night.startedSeq,
  }];
};

const evolve = (state: SoulState, event: Recorded<DomainEvent>): SoulState => {
  switch (event.type) {
    case "NightStarted": {
      const counts = { ...ZERO, refused: state.refusedSinceLastNight };
      const night: NightState = { untilSeq: event.data.untilSeq, startedSeq: event.seq, startedAt: event.storedAt, completed: false, counts };
      return { ...state, refusedSinceLastNight: 0, nights: { ...state.nights, [event.data.nightId]: night } };
    }
    case "NightCompleted": {
      const night = state.nights[event.data.nightId];
      return night ? { ...state, nights: { ...state.nights, [event.data.nightId]: { ...night, completed: true } } } : state;
    }
    case "InputReceived":
      return state.undecided[event.data.inputId] !== undefined ? state : { ...state, undecided: { ...state.undecided, [event.data.inputId]: event.seq } };
    case "InputRefused":
      return { ...state, refusedSinceLastNight: state.refusedSinceLastNight + 1 };
    case "InputAccepted":
      return decided(state, event.data.nightId, event.data.inputId, "accepted");
    case "InputRejected":
      return decided(state, event.data.nightId, event.data.inputId, "rejected");
    case "ShadowRecorded":
      return decided(state, event.data.nightId, event.data.inputId, "shadow");
    case "InputRepeated":
    case "InputScored":
    case "PreoccupationSeeded":
    case "AnchorAdded":
      return state;
    default: {
      const never: never = event;
      return never;
    }
  }
};

/** The Soul opens nights and closes them when every input of the window is decided. */
export const soulDecider: Decider<SoulState, SoulCommand> = {
  actor: "soul",
  initialState: () => ({ nights: {}, undecided: {}, refusedSinceLastNight: 0 }),
  evolve,
  reactsTo: ["NightStarted", "InputAccepted", "InputRejected", "ShadowRecorded"],
  react: (event, state) => {
    switch (event.type) {
      case "NightStarted":
        return completeIfDone(state, event.data.nightId, event.storedAt);
      case "InputAccepted":
      case "InputRejected":
      case "ShadowRecorded":
        return completeIfDone(state, event.data.nightId, event.storedAt);
      default:
        return [];
    }
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
        return [{ event: { type: "NightStarted", data: { nightId: command.day, day: command.day, trigger: command.trigger, untilSeq: ctx.position } }, expectedSubjectSeq: 0 }];
      }
      default: {
        const never: never = command.type;
        return never;
      }
    }
  },
};
