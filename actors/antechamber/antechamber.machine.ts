import { assign, emit, fromPromise, setup } from "xstate";
import type { ClusteringParams } from "../../events/antechamber.ts";
import type { EventData } from "../../events/catalogue.ts";
import { backoffDelay } from "../machine.ts";
import { decideClustering, type AntechamberState } from "./antechamber.state.ts";
import type { RejectedQuestion } from "./ports.ts";

/** One completed night to cluster: its NightCompleted event's id, sequence and night. */
export interface NightJob {
  readonly causeId: string;
  readonly seq: number;
  readonly nightId: string;
}

export interface AntechamberContext {
  readonly params: ClusteringParams;
  readonly job: NightJob | null;
  readonly decided: EventData<"AntechamberClustered"> | null;
  readonly attempt: number;
  readonly error: string | null;
}

export type AntechamberEvent = { type: "NIGHT"; job: NightJob } | { type: "STOP" };
export type AntechamberEmitted =
  | { type: "clustered"; job: NightJob; data: EventData<"AntechamberClustered"> | null }
  | { type: "failed"; job: NightJob; error: string };

const MAX_ATTEMPTS = 5;

/**
 * The Antechamber's night: load (the log's state and the vectors up to the night), decide (pure:
 * HDBSCAN and identity matching), append, ack. Effects are named actors provided by the worker;
 * failures back off and load again; after MAX_ATTEMPTS the night is left unacked for redelivery.
 */
export const antechamberMachine = setup({
  types: { context: {} as AntechamberContext, events: {} as AntechamberEvent, emitted: {} as AntechamberEmitted, input: {} as { params: ClusteringParams } },
  actors: {
    load: fromPromise<{ state: AntechamberState; rows: RejectedQuestion[] } | null, NightJob>(async () => {
      throw new Error("provided by the worker");
    }),
    append: fromPromise<void, { job: NightJob; data: EventData<"AntechamberClustered"> }>(async () => {
      throw new Error("provided by the worker");
    }),
    ack: fromPromise<void, NightJob>(async () => {
      throw new Error("provided by the worker");
    }),
  },
  delays: { retry: ({ context }) => backoffDelay(context.attempt, 250) },
}).createMachine({
  id: "antechamber",
  initial: "idle",
  context: ({ input }) => ({ params: input.params, job: null, decided: null, attempt: 0, error: null }),
  states: {
    idle: {
      on: {
        NIGHT: { target: "loading", actions: assign({ job: ({ event }) => event.job, decided: null, attempt: 0, error: null }) },
        STOP: "stopped",
      },
    },
    loading: {
      invoke: {
        id: "load",
        src: "load",
        input: ({ context }) => context.job!,
        onDone: [
          // Null: the night was clustered already (a redelivery after a lost ack).
          { guard: ({ event }) => event.output === null, target: "acking" },
          {
            target: "deciding",
            actions: assign({ decided: ({ context, event }) => decideClustering(event.output!.state, context.job!.nightId, event.output!.rows, context.params) }),
          },
        ],
        onError: { target: "retrying", actions: assign({ error: ({ event }) => String(event.error) }) },
      },
    },
    deciding: {
      always: [{ guard: ({ context }) => context.decided === null, target: "acking" }, { target: "appending" }],
    },
    appending: {
      invoke: {
        id: "append",
        src: "append",
        input: ({ context }) => ({ job: context.job!, data: context.decided! }),
        onDone: "acking",
        onError: { target: "retrying", actions: assign({ error: ({ event }) => String(event.error) }) },
      },
    },
    retrying: {
      always: { guard: ({ context }) => context.attempt >= MAX_ATTEMPTS, target: "giving-up" },
      after: { retry: { target: "loading", actions: assign({ attempt: ({ context }) => context.attempt + 1 }) } },
      on: { STOP: "stopped" },
    },
    "giving-up": {
      always: { target: "idle", actions: emit(({ context }) => ({ type: "failed" as const, job: context.job!, error: context.error ?? "unknown" })) },
    },
    acking: {
      invoke: {
        id: "ack",
        src: "ack",
        input: ({ context }) => context.job!,
        onDone: { target: "idle", actions: emit(({ context }) => ({ type: "clustered" as const, job: context.job!, data: context.decided })) },
        // An ack lost is a redelivery later, answered from the log: the night is done either way.
        onError: { target: "idle", actions: emit(({ context }) => ({ type: "clustered" as const, job: context.job!, data: context.decided })) },
      },
    },
    stopped: { type: "final" },
  },
});
