import type { DomainEvent, EventType } from "../events/catalogue.ts";
import type { Recorded } from "../events/envelope.ts";

/** What a decision may depend on besides state and input: given, never read from the world. */
export interface DecideContext {
  /** ISO time of the decision. */
  readonly now: string;
  /** The last sequence of the log known when deciding. */
  readonly position: number;
  /** Who sent the command being decided (absent for reactions). */
  readonly requestedBy?: string;
}

/** An event the actor decided, optionally guarded by the entity version it saw. */
export interface Decision {
  readonly event: DomainEvent;
  readonly expectedSubjectSeq?: number;
}

/** A command refused by a decider: the reason goes back to whoever sent it. */
export class Refusal extends Error {
  override readonly name = "Refusal";
}

/**
 * An actor's pure core (emmett's decider): the state it keeps, how events change it, and what it
 * decides given a command or an event. No clock, no ids, no I/O.
 */
export interface Decider<S, C extends { readonly type: string } = never> {
  readonly actor: string;
  readonly initialState: () => S;
  /** Folds any event of the log (ignoring what it does not care about). */
  readonly evolve: (state: S, event: Recorded<DomainEvent>) => S;
  /** The event types this actor reacts to. */
  readonly reactsTo: ReadonlyArray<EventType>;
  /** Reacts to an event; `state` already includes it (the log up to and including the event). */
  readonly react: (event: Recorded<DomainEvent>, state: S, ctx: DecideContext) => ReadonlyArray<Decision>;
  /** The command types it accepts from outside (CLI, agents). */
  readonly accepts: ReadonlyArray<C["type"]>;
  /** Decides on a command; throws Refusal to refuse it. */
  readonly handle: (command: C, state: S, ctx: DecideContext) => ReadonlyArray<Decision>;
}

/** Shorthand for deciders that react to events only. */
export const noCommands = {
  accepts: [] as const,
  handle: (): never => {
    throw new Refusal("this actor accepts no commands");
  },
};
