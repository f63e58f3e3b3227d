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
  /** Which step a backoff returns to: deciding (its reads failed) or appending. */
  readonly retry: "deciding" | "appending";
}

export type LifecycleEvent = { type: "WORK"; item: WorkItem } | { type: "STOP" };

/** What the machine tells its host when an item is settled. */
export type Settled =
  | { type: "settled"; item: WorkItem; appended: ReadonlyArray<Appended> }
  | { type: "refused"; item: WorkItem; reason: string }
  /** Given up after bounded retries: the item was quarantined with the reason, and the actor moved on. */
  | { type: "failed"; item: WorkItem; reason: string };

const MAX_CONFLICTS = 3;
/** Retries of a step that fails the same way each time (a bug, a write the server refuses). */
export const MAX_ATTEMPTS = 5;
const MAX_BACKOFF_MS = 10_000;

export const backoffDelay = (attempt: number, baseMs = 100): number => Math.min(MAX_BACKOFF_MS, baseMs * 2 ** attempt);

const isConcurrency = (e: unknown) => e instanceof Error && e.name === "ConcurrencyError";
const isRefusal = (e: unknown) => e instanceof Error && (e.name === "Refusal" || e.name === "EncodeError");
/** The store did not answer: retried for as long as it takes (a STOP still stops). */
export const isTransient = (e: unknown) => e instanceof Error && e.name === "StoreError" && (e as { transient?: boolean }).transient === true;
const messageOf = (e: unknown) => String((e as Error)?.message ?? e);

/**
 * The lifecycle of every actor: idle -> deciding -> appending -> acking -> idle, with backoff on
 * store errors and a fresh decision after a concurrency conflict. Nothing retries forever but a store
 * that does not answer: a step failing the same way MAX_ATTEMPTS + 1 times, or a conflict that
 * outlasts MAX_CONFLICTS fresh decisions, ends in `failing` (quarantined, and the actor moves on).
 * STOP stops from every state: the item in hand stays unacked and is redelivered. Pure: the effects (decide against
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
    quarantine: fromPromise<void, { item: WorkItem; reason: string }>(async () => {
      throw new Error("quarantine is provided by the host");
    }),
  },
  delays: {
    backoff: ({ context }) => backoffDelay(context.attempt),
  },
  guards: {
    concurrencyConflict: ({ context, event }) =>
      isConcurrency((event as { error?: unknown }).error) && context.conflicts < MAX_CONFLICTS,
    refusal: ({ event }) => isRefusal((event as { error?: unknown }).error),
    /** Worth another try: the store did not answer, or the attempts are not used up. */
    retryable: ({ context, event }) => isTransient((event as { error?: unknown }).error) || context.attempt < MAX_ATTEMPTS,
  },
}).createMachine({
  id: "actor",
  initial: "idle",
  context: { item: null, decisions: [], appended: [], attempt: 0, conflicts: 0, error: null, retry: "appending" },
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
        onError: [
          { guard: "refusal", target: "refusing", actions: assign({ error: ({ event }) => messageOf(event.error) }) },
          { guard: "retryable", target: "backoff", actions: assign({ error: ({ event }) => messageOf(event.error), retry: "deciding" as const }) },
          { target: "failing", actions: assign({ error: ({ event }) => `deciding failed ${MAX_ATTEMPTS + 1} times: ${messageOf(event.error)}` }) },
        ],
      },
      on: { STOP: "stopped" },
    },
    appending: {
      invoke: {
        id: "append",
        src: "append",
        input: ({ context }) => ({ item: context.item!, decisions: context.decisions }),
        onDone: { target: "acking", actions: assign({ appended: ({ event }) => event.output }) },
        onError: [
          { guard: "concurrencyConflict", target: "deciding", actions: assign({ conflicts: ({ context }) => context.conflicts + 1 }) },
          { guard: "refusal", target: "refusing", actions: assign({ error: ({ event }) => messageOf(event.error) }) },
          // A conflict that outlasts MAX_CONFLICTS fresh decisions will not go away by waiting.
          {
            guard: ({ event }) => isConcurrency(event.error),
            target: "failing",
            actions: assign({ error: ({ event }) => `still conflicting after ${MAX_CONFLICTS} fresh decisions: ${messageOf(event.error)}` }),
          },
          { guard: "retryable", target: "backoff", actions: assign({ error: ({ event }) => messageOf(event.error), retry: "appending" as const }) },
          { target: "failing", actions: assign({ error: ({ event }) => `appending failed ${MAX_ATTEMPTS + 1} times: ${messageOf(event.error)}` }) },
        ],
      },
      on: { STOP: "stopped" },
    },
    backoff: {
      after: {
        backoff: [
          { guard: ({ context }) => context.retry === "deciding", target: "deciding", actions: assign({ attempt: ({ context }) => context.attempt + 1 }) },
          { target: "appending", actions: assign({ attempt: ({ context }) => context.attempt + 1 }) },
        ],
      },
      on: { STOP: "stopped" },
    },
    failing: {
      // Given up: the item is quarantined with the reason and acked, so the actor moves on.
      invoke: {
        id: "quarantine",
        src: "quarantine",
        input: ({ context }) => ({ item: context.item!, reason: context.error ?? "failed" }),
        onDone: { target: "idle", actions: emit(({ context }) => ({ type: "failed" as const, item: context.item!, reason: context.error ?? "failed" })) },
        onError: { target: "idle", actions: emit(({ context }) => ({ type: "failed" as const, item: context.item!, reason: context.error ?? "failed" })) },
      },
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
      on: { STOP: "stopped" },
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
      on: { STOP: "stopped" },
    },
    stopped: { type: "final" },
  },
});
