import type { DomainEvent, EventType } from "../events/catalogue.ts";
import type { Recorded } from "../events/envelope.ts";

/**
 * A read model: a total, pure fold over events. Bumping `version` makes the runner rebuild it from
 * sequence 1. The same fold answers "now" and "as of sequence N / time T".
 */
export interface Projection<S> {
  readonly name: string;
  readonly version: number;
  /** The event types it folds; others never reach `evolve`. */
  readonly canHandle: ReadonlyArray<EventType>;
  readonly initialState: () => S;
  readonly evolve: (state: S, event: Recorded<DomainEvent>) => S;
  /** JSON form for checkpoints, when the state is not plain JSON (Maps, typed arrays). */
  readonly toJSON?: (state: S) => unknown;
  readonly fromJSON?: (json: unknown) => S;
}

export type AnyProjection = Projection<any>;

/** Where a projection stands: its version, the last sequence folded, and the state. */
export interface Checkpoint<S = unknown> {
  readonly version: number;
  readonly lastSeq: number;
  readonly state: S;
}

/** The port for saving checkpoints (adapters/nats keeps them in a KV bucket). */
export interface CheckpointStore {
  get(name: string): Promise<Checkpoint<unknown> | undefined>;
  put(name: string, checkpoint: Checkpoint<unknown>): Promise<void>;
  delete(name: string): Promise<void>;
}

/** Folds one event into a state if the projection handles it. */
export const applyEvent = <S>(p: Projection<S>, state: S, event: Recorded<DomainEvent>): S =>
  (p.canHandle as ReadonlyArray<string>).includes(event.type) ? p.evolve(state, event) : state;
