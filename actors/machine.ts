import { assign, emit, fromPromise, setup } from "xstate";
import type { Appended } from "../events/store.ts";
import type { Decision } from "./decider.ts";

/** One unit of work for an actor: an event from the log, or a command from outside. */
export interface WorkItem {
  readonly kind: "event" | "command";
  /** The cause's id: the inbound event's id or the command's id. */
  readonly causeId: string;
}

export interface LifecycleContext {
  readonly item: WorkItem | null;
  readonly decisions: ReadonlyArray<Decision>;
  readonly appended: ReadonlyArray<Appended>;
  readonly attempt: number;
  readonly conflicts: number;
  readonly error: string | null;
}

export type LifecycleEvent = { type: "WORK"; item: WorkItem } | { type: "STOP" };

/** What the machine tells its host when an item is settled. */
export type Settled =
  | { type: "settled"; item: WorkItem; appended: ReadonlyArray<Appended> }
  | { type: "refused"; item: WorkItem; reason: string };

const MAX_CONFLICTS = 3;
const MAX_BACKOFF_MS = 10_000;

export const backoffDelay = (attempt: number, baseMs = 100): number => Math.min(MAX_BACKOFF_MS, baseMs * 2 ** attempt);

const isConcurrency = (e: unknown) => e instanceof Error && e.name === "ConcurrencyError";
const isRefusal = (e: unknown) => e instanceof Error && (e.name === "Refusal" || e.name === "EncodeError");

/**
 * The lifecycle of every actor: idle -> deciding -> appending -> acking -> idle, with backoff on
 * store errors and a fresh decision after a concurrency conflict. Pure: the effects (decide against
 * the current state, append, ack) are named actors that the host provides with `machine.provide`.
 */
export const lifecycleMachine = setup({
  types: {
    context: {} as LifecycleContext,
    events: {} as LifecycleEvent,
    emitted: {} as Settled,
  },
  actors: {
    decide: fromPromise<ReadonlyArray<Decision>, { item: WorkItem; refresh: boolean }>(async () => {
      throw new Error("decide is provided by the host");
    }),
    append: fromPromise<ReadonlyArray<Appended>, { item: WorkItem; decisions: ReadonlyArray<Decision> }>(async () => {
      throw new Error("append is provided by the host");
    }),
    ack: fromPromise<void, { item: WorkItem }>(async () => {
      throw new Error("ack is provided by the host");
    }),
  },
  delays: {
    backoff: ({ context }) => backoffDelay(context.attempt),
  },
  guards: {
    concurrencyConflict: ({ context, event }) =>
      isConcurrency((event as { error?: unknown }).error) && context.conflicts < MAX_CONFLICTS,
    refusal: ({ event }) => isRefusal((event as { error?: unknown }).error),
  },
}).createMachine({
  id: "actor",
  initial: "idle",
  context: { item: null, decisions: [], appended: [], attempt: 0, conflicts: 0, error: null },
  states: {
    idle: {
      on: {
        WORK: { target: "deciding", actions: assign({ item: ({ event }) => event.item, attempt: 0, conflicts: 0, error: null, appended: [] }) },
        STOP: "stopped",
      },
    },
    deciding: {
      invoke: {
        id: "decide",
        src: "decide",
        input: ({ context }) => ({ item: context.item!, refresh: context.conflicts > 0 }),
        onDone: [
          { guard: ({ event }) => event.output.length === 0, target: "acking", actions: assign({ decisions: [] }) },
          { target: "appending", actions: assign({ decisions: ({ event }) => event.output }) },
        ],
        onError: { target: "refusing", actions: assign({ error: ({ event }) => String((event.error as Error)?.message ?? event.error) }) },
      },
    },
    appending: {
      invoke: {
        id: "append",
        src: "append",
        input: ({ context }) => ({ item: context.item!, decisions: context.decisions }),
        onDone: { target: "acking", actions: assign({ appended: ({ event }) => event.output }) },
        onError: [
          { guard: "concurrencyConflict", target: "deciding", actions: assign({ conflicts: ({ context }) => context.conflicts + 1 }) },
          { guard: "refusal", target: "refusing", actions: assign({ error: ({ event }) => String((event.error as Error).message) }) },
          { target: "backoff", actions: assign({ error: ({ event }) => String((event.error as Error)?.message ?? event.error) }) },
        ],
      },
    },
    backoff: {
      after: { backoff: { target: "appending", actions: assign({ attempt: ({ context }) => context.attempt + 1 }) } },
      on: { STOP: "stopped" },
    },
    refusing: {
      // A refusal is final for this item: it is acked so the actor does not stall on it.
      invoke: {
        id: "ack",
        src: "ack",
        input: ({ context }) => ({ item: context.item! }),
        onDone: { target: "idle", actions: emit(({ context }) => ({ type: "refused" as const, item: context.item!, reason: context.error ?? "refused" })) },
        onError: { target: "idle", actions: emit(({ context }) => ({ type: "refused" as const, item: context.item!, reason: context.error ?? "refused" })) },
      },
    },
    acking: {
      // Only now is the inbound message acked: the decided events are facts in the log.
      invoke: {
        id: "ack",
        src: "ack",
        input: ({ context }) => ({ item: context.item! }),
        onDone: { target: "idle", actions: emit(({ context }) => ({ type: "settled" as const, item: context.item!, appended: context.appended })) },
        // A lost ack means redelivery; the derived ids make the repeat a no-op.
        onError: { target: "idle", actions: emit(({ context }) => ({ type: "settled" as const, item: context.item!, appended: context.appended })) },
      },
    },
    stopped: { type: "final" },
  },
});
