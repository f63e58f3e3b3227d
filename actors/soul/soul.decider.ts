import type { DomainEvent } from "../../events/catalogue.ts";
import type { Recorded } from "../../events/envelope.ts";
import { Refusal, type Decider, type Decision } from "../decider.ts";
import { dayProblem } from "../../events/day.ts";

/** Commands the Soul accepts from the CLI, its schedule and outside agents. */
export type SoulCommand =
  | { readonly type: "StartNight"; readonly day: string; readonly trigger: "cli" | "schedule" | "agent"; readonly deadlineAt?: string }
  /** Sent by the Soul's clock: ends every open night whose deadline has come (nothing when none has). */
  | { readonly type: "CutOffNights" }
  | { readonly type: "ForgetInput"; readonly inputId: string; readonly reason: string };

export interface NightCounts {
  accepted: number;
  rejected: number;
  shadow: number;
  refused: number;
  /** Inputs that could not be judged (forgotten before they were scored, or their text missing). */
  dropped: number;
}

export interface NightState {
  readonly untilSeq: number;
  /** The stream sequence of NightStarted: the completion expects it to be the night's last event. */
  readonly startedSeq: number;
  readonly startedAt: number;
  /** When the night must stop (NightStarted's deadlineAt), or null. */
  readonly deadlineAt: string | null;
  completed: boolean;
  /** Ended at its deadline with inputs left (they wait for the next night's window). */
  cutOff: boolean;
  /** Inputs of the window still waiting for a decision. */
  pending: number;
  readonly counts: NightCounts;
}

/**
 * The Soul's view of the log. Updated in place by the fold (a copy per event would make a night
 * quadratic); the host clones it (structuredClone) when a command needs a look ahead.
 */
export interface SoulState {
  readonly nights: Record<string, NightState>;
  /** Inputs received and not yet decided, by id, with the sequence that received them. */
  readonly undecided: Map<string, number>;
  /** The content hashes of every input (text, prompt, correction): what forgetting deletes. */
  readonly contents: Map<string, string[]>;
  readonly forgotten: Set<string>;
  /** Refusals since the last night started: they are counted in the next night. */
  refusedSinceLastNight: number;
}

const decided = (state: SoulState, nightId: string, inputId: string, kind: keyof NightCounts): SoulState => {
  const seq = state.undecided.get(inputId);
  state.undecided.delete(inputId);
  const night = state.nights[nightId];
  if (night) night.counts[kind]++;
  // Every open night whose window holds it counted it as pending (a night left open by a killed
  // process, or cut off at its deadline, then the next one started): it is decided once, for one of
  // them, and none of them waits for it any longer.
  if (seq !== undefined) for (const n of Object.values(state.nights)) if (!n.completed && seq <= n.untilSeq && seq < n.startedSeq) n.pending--;
  return state;
};

/** Open nights whose deadline has come at `nowMs`, oldest first. */
export const nightsPastDeadline = (state: SoulState, nowMs: number): string[] =>
  Object.entries(state.nights)
    .filter(([, n]) => !n.completed && n.deadlineAt !== null && Date.parse(n.deadlineAt) <= nowMs)
    .sort((a, b) => a[1].startedSeq - b[1].startedSeq)
    .map(([id]) => id);

/** Ends a night at its deadline: what was decided is counted, what was not stays pending for the next night. */
const cutOff = (state: SoulState, nightId: string, now: string): Decision => {
  const night = state.nights[nightId]!;
  const late = Math.round((Date.parse(now) - Date.parse(night.deadlineAt!)) / 1000);
  const detail = `the deadline ${night.deadlineAt} came (${late} s ago) with ${night.pending} input(s) of the window undecided: they stay pending for the next night`;
  return {
    event: {
      type: "NightCompleted",
      data: { nightId, counts: { ...night.counts }, durationMs: Math.max(0, Date.parse(now) - night.startedAt), cutOff: { reason: "deadline", deadlineAt: night.deadlineAt!, left: night.pending, detail } },
    },
    expectedSubjectSeq: night.startedSeq,
  };
};

/** Closes the night once nothing in its window waits for a decision. */
const completeIfDone = (state: SoulState, nightId: string, now: number): Decision[] => {
  const night = state.nights[nightId];
  if (!night || night.completed || night.pending > 0) return [];
  return [{
    event: { type: "NightCompleted", data: { nightId, counts: { ...night.counts }, durationMs: Math.max(0, now - night.startedAt), cutOff: null } },
    expectedSubjectSeq: night.startedSeq,
  }];
};

/** After a decision: its night, then any other open night that waited for that input last (oldest first). */
const completeOpenNights = (state: SoulState, nightId: string, now: number): Decision[] => {
  const others = Object.entries(state.nights)
    .filter(([id, n]) => id !== nightId && !n.completed && n.pending <= 0)
    .sort((a, b) => a[1].startedSeq - b[1].startedSeq);
  return [nightId, ...others.map(([id]) => id)].flatMap((id) => completeIfDone(state, id, now));
};

const shasOf = (metadata: Record<string, unknown> | undefined): string[] =>
  ["promptSha256", "correctedSha256", "extraSha256"].flatMap((k) => (typeof metadata?.[k] === "string" ? [metadata[k] as string] : []));

const evolve = (state: SoulState, event: Recorded<DomainEvent>): SoulState => {
  switch (event.type) {
    case "NightStarted": {
      let pending = 0;
      for (const seq of state.undecided.values()) if (seq <= event.data.untilSeq) pending++;
      const counts = { accepted: 0, rejected: 0, shadow: 0, refused: state.refusedSinceLastNight, dropped: 0 };
      state.nights[event.data.nightId] = { untilSeq: event.data.untilSeq, startedSeq: event.seq, startedAt: event.storedAt, deadlineAt: event.data.deadlineAt ?? null, completed: false, cutOff: false, pending, counts };
      state.refusedSinceLastNight = 0;
      return state;
    }
    case "NightCompleted": {
      const night = state.nights[event.data.nightId];
      if (night) (night.completed = true, (night.cutOff = event.data.cutOff !== null));
      return state;
    }
    case "InputReceived":
      if (!state.contents.has(event.data.inputId)) {
        state.undecided.set(event.data.inputId, event.seq);
        state.contents.set(event.data.inputId, [event.data.contentSha256, ...shasOf(event.data.source.metadata)]);
      }
      return state;
    case "InputRefused":
      state.refusedSinceLastNight++;
      return state;
    case "InputForgotten":
      state.forgotten.add(event.data.inputId);
      return state;
    case "InputAccepted":
      return decided(state, event.data.nightId, event.data.inputId, "accepted");
    case "InputRejected":
      return decided(state, event.data.nightId, event.data.inputId, "rejected");
    case "ShadowRecorded":
      return decided(state, event.data.nightId, event.data.inputId, "shadow");
    case "InputDropped":
      return decided(state, event.data.nightId, event.data.inputId, "dropped");
    case "InputRepeated": {
      // A repeat may bring metadata of its own (another file's fields): forgetting deletes it too.
      const shas = state.contents.get(event.data.inputId);
      for (const sha of shasOf(event.data.source.metadata)) if (shas && !shas.includes(sha)) shas.push(sha);
      return state;
    }
    case "InputScored":
    case "PreoccupationSeeded":
    case "AnchorAdded":
    case "AntechamberClustered":
    case "MitosisProposed":
    case "MitosisApproved":
    case "MitosisDeclined":
    case "SatelliteBorn":
    case "DriftDetected":
    case "CentroidMoved":
      return state;
    // Training jobs: the Soul's requests are decided in training.decider.ts, its evaluation and
    // promotion in evaluation.worker.ts.
    case "TrainingRequested":
    case "TrainingDeferred":
    case "TrainingCancelRequested":
    case "HostProvisioned":
    case "DatasetUploaded":
    case "TrainingStarted":
    case "TrainingProgressed":
    case "TrainingFailed":
    case "AdapterTrained":
    case "AdapterEvaluated":
    case "AdapterPromoted":
    case "AdapterRolledBack":
    case "HostReleased":
    case "TrainingPlanned":
    case "ProviderChosen":
    case "InstanceCreated":
    case "InstanceTerminated":
    case "BaseStaged":
    case "VolumeKept":
    case "VolumeDeleted":
      return state;
    // The airlock's records: what left Node A, and the policy it obeyed.
    case "AirlockPolicySet":
    case "InputMarkedPrivate":
    case "EgressRecorded":
      return state;
    // The content store's copies on a cluster: kept whole by the heal (adapters/cli/heal-copies.ts).
    case "ContentCopyStale":
    case "ContentCopyRebuilt":
    case "ContentCopyRebuildFailed":
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
  initialState: () => ({ nights: {}, undecided: new Map(), contents: new Map(), forgotten: new Set(), refusedSinceLastNight: 0 }),
  evolve,
  reactsTo: ["NightStarted", "InputAccepted", "InputRejected", "ShadowRecorded", "InputDropped"],
  react: (event, state) => {
    switch (event.type) {
      case "NightStarted":
        return completeIfDone(state, event.data.nightId, event.storedAt);
      case "InputAccepted":
      case "InputRejected":
      case "ShadowRecorded":
      case "InputDropped":
        return completeOpenNights(state, event.data.nightId, event.storedAt);
      default:
        return [];
    }
  },
  accepts: ["StartNight", "ForgetInput", "CutOffNights"],
  handle: (command, state, ctx) => {
    switch (command.type) {
      case "StartNight": {
        const bad = dayProblem(command.day);
        if (bad) throw new Refusal(`day must be a real date YYYY-MM-DD: ${bad}`);
        const existing = state.nights[command.day];
        if (existing) {
          throw new Refusal(`the night of ${command.day} was already started (window up to seq ${existing.untilSeq}, ${existing.cutOff ? "cut off at its deadline: what it left is judged by the next night's window, so start the night of another day" : existing.completed ? "completed" : "in progress"})`);
        }
        if (command.deadlineAt !== undefined) {
          const at = Date.parse(command.deadlineAt);
          if (!Number.isFinite(at)) throw new Refusal(`deadlineAt must be an ISO time, got ${JSON.stringify(command.deadlineAt)}`);
          if (at <= Date.parse(ctx.now)) throw new Refusal(`the night's deadline ${command.deadlineAt} has already passed (now ${ctx.now}): nothing could be judged; start it without a deadline or with a later one`);
        }
        const deadline = command.deadlineAt === undefined ? {} : { deadlineAt: new Date(command.deadlineAt).toISOString() };
        return [{ event: { type: "NightStarted", data: { nightId: command.day, day: command.day, trigger: command.trigger, untilSeq: ctx.position, ...deadline } }, expectedSubjectSeq: 0 }];
      }
      case "CutOffNights":
        return nightsPastDeadline(state, Date.parse(ctx.now)).map((nightId) => cutOff(state, nightId, ctx.now));
      case "ForgetInput": {
        const shas = state.contents.get(command.inputId);
        if (!shas) throw new Refusal(`no input ${command.inputId} (ids are the sha256 of the text; see \`sophont events tail --type InputReceived\`)`);
        if (state.forgotten.has(command.inputId)) throw new Refusal(`input ${command.inputId} was already forgotten`);
        return [{ event: { type: "InputForgotten", data: { inputId: command.inputId, deletedSha256: shas, reason: command.reason, requestedBy: ctx.requestedBy ?? "unknown" } } }];
      }
      default: {
        const never: never = command;
        return never;
      }
    }
  },
};
