import { assign, emit, fromPromise, setup } from "xstate";
import type { Decision } from "../decider.ts";
import { backoffDelay, isTransient as isTransientStoreError } from "../machine.ts";
import type { InputRef, NightFrame } from "./salience.decider.ts";

export interface NightJob {
  /** The NightStarted event's id: the cause of every event of the night. */
  readonly causeId: string;
  readonly nightId: string;
}

export interface SalienceContext {
  readonly job: NightJob | null;
  readonly frame: NightFrame | null;
  readonly pending: ReadonlyArray<InputRef>;
  readonly cursor: number;
  readonly batchSize: number;
  readonly decisions: ReadonlyArray<Decision>;
  readonly attempt: number;
  readonly error: string | null;
  /** The last failure was the store or the server not answering (an election, a restart): waited out, not counted. */
  readonly transient: boolean;
  /** The Soul ended the night (its deadline came): no further batch is scored. */
  readonly cutOff: boolean;
}

export type SalienceEvent = { type: "NIGHT"; job: NightJob } | { type: "CUT_OFF"; causeId: string } | { type: "STOP" };
export type SalienceEmitted =
  | { type: "progress"; job: NightJob; done: number; total: number }
  | { type: "finished"; job: NightJob; decided: number }
  /** The night ended at its deadline: `decided` inputs of this run were judged, `left` wait for the next night. */
  | { type: "cut-off"; job: NightJob; decided: number; left: number }
  | { type: "failed"; job: NightJob; error: string };

const MAX_ATTEMPTS = 6;

/**
 * The server did not answer in time (a leader election, a node restarting): not the night's fault, so
 * it is retried with capped backoff for as long as it lasts, as the actors' host does; a STOP still stops.
 * Failures of the models or of the data count towards MAX_ATTEMPTS.
 */
const isTransient = (e: unknown): boolean => {
  const x = e as { name?: string; message?: string };
  return isTransientStoreError(e) || x?.name === "TimeoutError" || /no responders/i.test(String(x?.message ?? ""));
};


/**
 * Salience's night: load the window (pending inputs, frozen centroids and baseline), then score a
 * batch, append its decisions, and go on until the window is empty; only then is NightStarted acked.
 * A restart resumes with what is still pending. Effects are named actors provided by the worker.
 */
export const salienceMachine = setup({
  types: { context: {} as SalienceContext, events: {} as SalienceEvent, emitted: {} as SalienceEmitted, input: {} as { batchSize?: number } },
  actors: {
    loadNight: fromPromise<{ frame: NightFrame; pending: InputRef[] }, NightJob>(async () => {
      throw new Error("provided by the worker");
    }),
    scoreBatch: fromPromise<Decision[], { frame: NightFrame; batch: ReadonlyArray<InputRef>; next: ReadonlyArray<InputRef> }>(async () => {
      throw new Error("provided by the worker");
    }),
    appendBatch: fromPromise<void, { job: NightJob; decisions: ReadonlyArray<Decision>; batch: ReadonlyArray<InputRef> }>(async () => {
      throw new Error("provided by the worker");
    }),
    ack: fromPromise<void, NightJob>(async () => {
      throw new Error("provided by the worker");
    }),
  },
  actions: {
    sayCut: emit(({ context }) => ({ type: "cut-off" as const, job: context.job!, decided: context.cursor, left: Math.max(0, context.pending.length - context.cursor) })),
  },
  delays: { retry: ({ context }) => backoffDelay(context.attempt, 250) },
  guards: {
    moreToDo: ({ context }) => context.cursor < context.pending.length,
    cutOff: ({ context }) => context.cutOff,
  },
}).createMachine({
  id: "salience",
  initial: "idle",
  context: ({ input }) => ({ job: null, frame: null, pending: [], cursor: 0, batchSize: input.batchSize ?? 16, decisions: [], attempt: 0, error: null, transient: false, cutOff: false }),
  // The worker learns the night was ended (its deadline) between batches; the batch in hand still lands.
  on: { CUT_OFF: { guard: ({ context, event }) => context.job?.causeId === event.causeId, actions: assign({ cutOff: true }) } },
  states: {
    idle: {
      on: {
        NIGHT: { target: "loading", actions: assign({ job: ({ event }) => event.job, cursor: 0, attempt: 0, error: null, pending: [], frame: null, cutOff: false }) },
        STOP: "stopped",
      },
    },
    loading: {
      invoke: {
        id: "loadNight",
        src: "loadNight",
        input: ({ context }) => context.job!,
        onDone: { target: "next", actions: assign({ frame: ({ event }) => event.output.frame, pending: ({ event }) => event.output.pending }) },
        onError: { target: "retrying", actions: assign({ error: ({ event }) => String(event.error), transient: ({ event }) => isTransient(event.error) }) },
      },
    },
    next: {
      always: [{ guard: "cutOff", target: "cut" }, { guard: "moreToDo", target: "scoring" }, { target: "acking" }],
    },
    scoring: {
      invoke: {
        id: "scoreBatch",
        src: "scoreBatch",
        input: ({ context }) => ({
          frame: context.frame!,
          batch: context.pending.slice(context.cursor, context.cursor + context.batchSize),
          // The batch after this one: its texts can be fetched while the model works.
          next: context.pending.slice(context.cursor + context.batchSize, context.cursor + 2 * context.batchSize),
        }),
        onDone: { target: "appending", actions: assign({ decisions: ({ event }) => event.output }) },
        onError: { target: "retrying", actions: assign({ error: ({ event }) => String(event.error), transient: ({ event }) => isTransient(event.error) }) },
      },
    },
    appending: {
      invoke: {
        id: "appendBatch",
        src: "appendBatch",
        input: ({ context }) => ({ job: context.job!, decisions: context.decisions, batch: context.pending.slice(context.cursor, context.cursor + context.batchSize) }),
        onDone: {
          target: "next",
          actions: [
            assign({ cursor: ({ context }) => Math.min(context.pending.length, context.cursor + context.batchSize), attempt: 0, decisions: [] }),
            emit(({ context }) => ({ type: "progress" as const, job: context.job!, done: Math.min(context.pending.length, context.cursor + context.batchSize), total: context.pending.length })),
          ],
        },
        onError: { target: "retrying", actions: assign({ error: ({ event }) => String(event.error), transient: ({ event }) => isTransient(event.error) }) },
      },
    },
    retrying: {
      always: { guard: ({ context }) => context.attempt >= MAX_ATTEMPTS && !context.transient, target: "giving-up" },
      // After a failure the window is loaded again: what was appended meanwhile is not done twice.
      after: { retry: { target: "loading", actions: assign({ attempt: ({ context }) => context.attempt + 1, cursor: 0 }) } },
      on: { STOP: "stopped" },
    },
    "giving-up": {
      // The NightStarted stays unacked: the server redelivers it and the night resumes later.
      always: { target: "idle", actions: emit(({ context }) => ({ type: "failed" as const, job: context.job!, error: context.error ?? "unknown" })) },
    },
    acking: {
      invoke: {
        id: "ack",
        src: "ack",
        input: ({ context }) => context.job!,
        onDone: { target: "idle", actions: emit(({ context }) => ({ type: "finished" as const, job: context.job!, decided: context.pending.length })) },
        onError: { target: "idle", actions: emit(({ context }) => ({ type: "finished" as const, job: context.job!, decided: context.pending.length })) },
      },
    },
    cut: {
      invoke: {
        id: "ackCut",
        src: "ack",
        input: ({ context }) => context.job!,
        onDone: { target: "idle", actions: "sayCut" },
        onError: { target: "idle", actions: "sayCut" },
      },
    },
    stopped: { type: "final" },
  },
});
