import type { DomainEvent } from "./catalogue.ts";
import type { Metadata, Recorded } from "./envelope.ts";

/** An event to append, with its envelope metadata, and optionally the entity sequence it expects. */
export interface Pending {
  readonly event: DomainEvent;
  readonly metadata: Metadata;
  /**
   * Optimistic concurrency: the last sequence the writer saw on this event's subject (0 = none).
   * The server refuses the append if another event on that subject came after it.
   */
  readonly expectedSubjectSeq?: number;
}

export interface Appended {
  readonly id: string;
  readonly subject: string;
  readonly seq: number;
  /** The server already held an event with this id: nothing new was written. */
  readonly duplicate: boolean;
}

/** Another writer appended to the entity since the expected sequence. Reload and decide again. */
export class ConcurrencyError extends Error {
  override readonly name = "ConcurrencyError";
  constructor(readonly subject: string, readonly expectedSeq: number, readonly detail: string) {
    super(`concurrent append on ${subject}: expected last sequence ${expectedSeq} (${detail}); reload and decide again`);
  }
}

/**
 * The log could not be reached or refused the write for another reason. `transient`: the server did
 * not answer (a timeout, no stream listening yet): worth retrying for as long as it takes; otherwise
 * the server answered with an error, and the same write will fail the same way.
 */
export class StoreError extends Error {
  override readonly name = "StoreError";
  readonly transient: boolean;
  constructor(readonly detail: string, options?: { cause?: unknown; transient?: boolean }) {
    super(detail, options?.cause === undefined ? undefined : { cause: options.cause });
    this.transient = options?.transient ?? false;
  }
}

/** Where to start reading: a sequence, or the first event stored at or after a time. */
export type From = { readonly seq: number } | { readonly time: Date };
/** Where to stop reading (inclusive): a sequence, a time, or the end of the log as it is now. */
export type Until = { readonly seq: number } | { readonly time: Date } | "now";

export interface ReadOptions {
  readonly from?: From;
  readonly until?: Until;
  /** Only these event types are decoded and yielded (others are skipped cheaply). */
  readonly types?: ReadonlySet<string>;
  /** Only events on this subject (one entity's history, e.g. `sophont.evt.input.<id>`); filtered by the server. */
  readonly subject?: string;
  /** Keep reading as new events arrive (ignores `until`) until the signal aborts. */
  readonly follow?: boolean;
  readonly signal?: AbortSignal;
}

/** A message that could not be decoded; it was put in quarantine and reading went on. */
export interface Quarantined {
  readonly seq: number;
  readonly subject: string;
  readonly reason: string;
}

/** A delivery from a durable consumer: ack only after the effects of the event are facts. */
export interface Delivery {
  readonly event: Recorded<DomainEvent>;
  /** How many times the server delivered it (1 = first time). */
  readonly deliveryCount: number;
  /**
   * Acks the delivery. By default waits for the server to confirm; `confirm: false` does not (for
   * events the actor only folds: a lost ack merely redelivers an event it will skip).
   */
  ack(options?: { readonly confirm?: boolean }): Promise<void>;
  nak(delayMs?: number): void;
  /** Tells the server the work goes on, so it does not redeliver during long work. */
  working(): void;
  /**
   * The handler failed on this message: it is redelivered after a backoff, a bounded number of times
   * (`maxDeliveries`), then quarantined with the reason and acked, so the consumer moves on.
   */
  fail(reason: string): Promise<"retry" | "quarantined">;
  /** Quarantines the message for this consumer (with the reason) and acks it: given up for good. */
  quarantine(reason: string): Promise<void>;
}

export interface SubscribeOptions {
  /** The durable consumer's name: its position survives restarts. */
  readonly durable: string;
  readonly types?: ReadonlySet<string>;
  /** How long the server waits for an ack before redelivering. */
  readonly ackWaitMs?: number;
  /**
   * How many times a failing message is delivered before it is quarantined (default 5). A message
   * delivered four times as often without being settled (a process dying on it) is quarantined too.
   */
  readonly maxDeliveries?: number;
  readonly onQuarantine?: (q: Quarantined) => void;
}

/**
 * The EventStore port: the only way actors and projections touch the log. No NATS in it;
 * adapters/nats implements it on JetStream.
 */
export interface EventStore {
  /** Appends in order; each event is a fact once this resolves. Dedup by metadata.id. */
  append(events: ReadonlyArray<Pending>): Promise<Appended[]>;
  /** Reads decoded events in stream order; undecodable messages are quarantined and skipped. */
  read(options?: ReadOptions & { onQuarantine?: (q: Quarantined) => void }): AsyncIterable<Recorded<DomainEvent>>;
  /** The same, a batch at a time: for folds over long stretches of the log. */
  readBatches(options?: ReadOptions & { onQuarantine?: (q: Quarantined) => void }): AsyncIterable<Recorded<DomainEvent>[]>;
  /** The sequence of the last event stored at or before a time (0 if none). */
  seqAt(time: Date): Promise<number>;
  /** The last sequence in the log now (0 when empty). */
  lastSeq(): Promise<number>;
  /** The last sequence on one event subject (0 when none): the entity's version. */
  lastSubjectSeq(subject: string): Promise<number>;
  /**
   * The first event on one subject at or after a sequence (undefined when none): walks one entity's
   * history through the server's own subject index, without a consumer and without a projection.
   */
  nextOnSubject(subject: string, fromSeq?: number): Promise<Recorded<DomainEvent> | undefined>;
  /** A durable subscription: deliveries in order, redelivered until acked. */
  subscribe(options: SubscribeOptions): Subscription;
}

export interface Subscription extends AsyncIterable<Delivery> {
  /** Pending (not yet delivered) plus unacknowledged messages. */
  lag(): Promise<number>;
  /** The last stream sequence acknowledged, below which everything was handled (0 for a new consumer). */
  ackFloor(): Promise<number>;
  stop(): Promise<void>;
}
