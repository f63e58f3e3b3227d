import { Schema } from "effect";

/** A schema for a payload as it is in JSON: what is decoded is what was encoded. */
export type PayloadSchema<D> = Schema.Codec<D, unknown>;

/** A retired version of an event's payload: its frozen schema and the step up to the next version. */
export interface PastVersion {
  readonly version: number;
  readonly schema: Schema.Top;
  /** Turns a payload of this version into one of `version + 1`. Pure; never fails on valid input. */
  readonly upcast: (data: any) => unknown;
}

/**
 * One event type: its current payload schema, the entity it belongs to (the subject's last token),
 * and every retired version with its upcaster. Old payloads are upcast on read; the log is never rewritten.
 */
export interface EventDefinition<T extends string = string, D = any> {
  readonly type: T;
  readonly family: string;
  readonly version: number;
  readonly schema: PayloadSchema<D>;
  readonly entity: (data: D) => string;
  readonly past: ReadonlyArray<PastVersion>;
  /** One line for the event catalogue. */
  readonly description: string;
}

export const defineEvent = <T extends string, D>(def: {
  type: T;
  family: string;
  schema: PayloadSchema<D>;
  entity: (data: D) => string;
  description: string;
  past?: ReadonlyArray<PastVersion>;
}): EventDefinition<T, D> => {
  const past = [...(def.past ?? [])].sort((a, b) => a.version - b.version);
  past.forEach((p, i) => {
    if (p.version !== i + 1) throw new Error(`${def.type}: past versions must be 1..n, got ${p.version} at ${i}`);
  });
  return { ...def, past, version: past.length + 1 };
};

/** The domain event a definition describes: `{ type, data }`. */
export type EventOf<Def> = Def extends EventDefinition<infer T, infer D> ? { readonly type: T; readonly data: D } : never;
