import { Schema } from "effect";

/** W3C trace context, carried in NATS headers and in the event itself. */
export const TraceContext = Schema.Struct({
  traceparent: Schema.String,
  tracestate: Schema.optional(Schema.String),
});
export type TraceContext = typeof TraceContext.Type;

/** What every event carries besides its payload. Time and ids are given by the caller. */
export const Metadata = Schema.Struct({
  id: Schema.String,
  time: Schema.String,
  actor: Schema.String,
  causationId: Schema.NullOr(Schema.String),
  correlationId: Schema.String,
  trace: Schema.optional(TraceContext),
});
export type Metadata = typeof Metadata.Type;

/** The JSON body of an event message: the envelope with its payload, flat. */
export const Envelope = Schema.Struct({
  ...Metadata.fields,
  type: Schema.String,
  version: Schema.Finite,
  data: Schema.Unknown,
});
export type Envelope = typeof Envelope.Type;

/**
 * An event as the log holds it: decoded, upcast to the current version, with its stream position.
 * Distributes over a union of events, so `switch (e.type)` narrows `e.data`.
 */
export type Recorded<E extends { type: string; data: unknown } = { type: string; data: unknown }> = E extends unknown
  ? {
      readonly type: E["type"];
      readonly data: E["data"];
      /** The payload version as it was written (before upcasting). */
      readonly writtenVersion: number;
      readonly metadata: Metadata;
      readonly seq: number;
      readonly subject: string;
      /** When the server stored it (ms since epoch): the clock of time travel. */
      readonly storedAt: number;
    }
  : never;
