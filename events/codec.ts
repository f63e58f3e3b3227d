import { Result, Schema } from "effect";
import { definitionOf, type DomainEvent } from "./catalogue.ts";
import type { EventDefinition } from "./define.ts";
import { Envelope, Metadata, type Recorded } from "./envelope.ts";
import { EVENT_PREFIX, eventSubject } from "./subjects.ts";
import { checkOf, type Check } from "./fast-check.ts";

/** Why a message could not become an event. Carried to the quarantine stream. */
export class DecodeError extends Error {
  override readonly name = "DecodeError";
  constructor(
    readonly reason: "not-json" | "bad-envelope" | "unknown-type" | "unknown-version" | "bad-payload" | "misplaced",
    readonly detail: string,
  ) {
    super(`${reason}: ${detail}`);
  }
}

/** An event was refused before it was written: its payload does not match its schema. */
export class EncodeError extends Error {
  override readonly name = "EncodeError";
  constructor(readonly type: string, readonly detail: string) {
    super(`cannot append ${type}: ${detail}`);
  }
}

const decoders = new WeakMap<Schema.Top, (u: unknown) => Result.Result<unknown, Schema.SchemaError>>();
const validatorOf = (schema: Schema.Top) => {
  let d = decoders.get(schema);
  if (!d) {
    d = Schema.decodeUnknownResult(schema as Schema.Codec<unknown, unknown>);
    decoders.set(schema, d);
  }
  return d;
};
const fast = new WeakMap<Schema.Top, Check | null>();
const fastOf = (schema: Schema.Top): Check | null => {
  if (!fast.has(schema)) fast.set(schema, checkOf(schema));
  return fast.get(schema)!;
};

const validate = (schema: Schema.Top, value: unknown): { ok: true; value: unknown } | { ok: false; error: string } => {
  // The compiled predicate answers the common case; Effect judges the rest and explains failures.
  if (fastOf(schema)?.(value)) return { ok: true, value };
  const r = validatorOf(schema)(value);
  return Result.isSuccess(r) ? { ok: true, value: r.success } : { ok: false, error: String(r.failure.message) };
};

export interface Encoded {
  readonly subject: string;
  readonly msgId: string;
  readonly body: Uint8Array;
  /** The W3C traceparent, also sent as a NATS header for tools that read headers only. */
  readonly traceparent?: string;
}

const validateMetadata = validatorOf(Metadata);

/** Validates the payload against its schema and lays out the message. The only encode path. */
export const encodeEvent = (event: DomainEvent, metadata: Metadata): Encoded => {
  const def = definitionOf(event.type);
  if (!def) throw new EncodeError(event.type, "unknown event type");
  const data = validate(def.schema, event.data);
  if (!data.ok) throw new EncodeError(event.type, data.error);
  const meta = validateMetadata(metadata);
  if (Result.isFailure(meta)) throw new EncodeError(event.type, `metadata: ${meta.failure.message}`);
  const subject = eventSubject(def.family, def.entity(event.data as never));
  // Laid out by hand: the same key order every time, and no intermediate envelope object.
  const head = JSON.stringify(metadata);
  const json = `${head.slice(0, -1)},"type":${JSON.stringify(event.type)},"version":${def.version},"data":${JSON.stringify(event.data)}}`;
  const body = Buffer.from(json, "utf8");
  return metadata.trace ? { subject, msgId: metadata.id, body, traceparent: metadata.trace.traceparent } : { subject, msgId: metadata.id, body };
};

const upcastToCurrent = (def: EventDefinition, version: number, data: unknown): unknown => {
  if (version === def.version) {
    const v = validate(def.schema, data);
    if (!v.ok) throw new DecodeError("bad-payload", `${def.type} v${version}: ${v.error}`);
    return v.value;
  }
  const past = def.past[version - 1];
  if (!past || version < 1 || version > def.version) {
    throw new DecodeError("unknown-version", `${def.type} has no version ${version} (current ${def.version})`);
  }
  const v = validate(past.schema, data);
  if (!v.ok) throw new DecodeError("bad-payload", `${def.type} v${version}: ${v.error}`);
  return upcastToCurrent(def, version + 1, past.upcast(v.value));
};

const validateEnvelope = validatorOf(Envelope);

const NEVER: Check = () => false;
const currentChecks = new Map<string, Check>();
/** The compiled predicate of a type's current schema, looked up once per type. */
const currentCheck = (def: EventDefinition): Check => {
  let c = currentChecks.get(def.type);
  if (c === undefined) currentChecks.set(def.type, (c = fastOf(def.schema) ?? NEVER));
  return c;
};

const str = (x: unknown): x is string => typeof x === "string";

/**
 * The envelope's own check, written out: it runs for every message of every replay, and the shape
 * is small and fixed. The full schema (with its error message) is used when this check fails.
 */
const envelopeOk = (j: unknown): j is Envelope => {
  if (typeof j !== "object" || j === null) return false;
  const e = j as Record<string, unknown>;
  return str(e.id) && str(e.time) && str(e.actor) && (e.causationId === null || str(e.causationId)) && str(e.correlationId) && str(e.type) &&
    typeof e.version === "number" && Number.isFinite(e.version) && "data" in e &&
    (e.trace === undefined || (typeof e.trace === "object" && e.trace !== null && str((e.trace as { traceparent?: unknown }).traceparent)));
};

// Twice as fast as Buffer#toString on short bodies; invalid sequences become U+FFFD either way.
const utf8 = new TextDecoder("utf-8");

/** Parses, validates and upcasts one message of the event stream. The only decode path. */
export const decodeEvent = (body: Uint8Array | string, seq: number, subject: string, storedAt: number): Recorded<DomainEvent> => {
  let json: unknown;
  try {
    json = JSON.parse(typeof body === "string" ? body : utf8.decode(body));
  } catch (e) {
    throw new DecodeError("not-json", (e as Error).message);
  }
  if (!envelopeOk(json)) {
    const env = validateEnvelope(json);
    throw new DecodeError("bad-envelope", Result.isFailure(env) ? env.failure.message : "envelope fields of the wrong type");
  }
  const e = json;
  const def = definitionOf(e.type);
  if (!def) throw new DecodeError("unknown-type", `no event type ${JSON.stringify(e.type)}`);
  // The common case in one step: the current version, accepted by its compiled predicate.
  const data = e.version === def.version && currentCheck(def)(e.data) ? e.data : upcastToCurrent(def, e.version, e.data);
  // A valid event on a subject it does not belong to (a NightStarted on a training subject) would
  // dodge the per-entity concurrency and dedup its subject gives: it is refused like a malformed one.
  const home = `${EVENT_PREFIX}.${def.family}.${def.entity(data as never)}`;
  if (subject !== home) throw new DecodeError("misplaced", `${e.type} belongs on ${home.slice(0, 240)}, not on ${subject.slice(0, 240)}`);
  const { id, time, actor, causationId, correlationId, trace } = e;
  const metadata: Metadata = trace ? { id, time, actor, causationId, correlationId, trace } : { id, time, actor, causationId, correlationId };
  // Asserted as a whole: past 25 event types TypeScript no longer matches a literal against each member.
  return { type: e.type, data, writtenVersion: e.version, metadata, seq, subject, storedAt } as Recorded<DomainEvent>;
};
