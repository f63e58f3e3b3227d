import { definitions } from "../../events/catalogue.ts";
import { encodeEvent } from "../../events/codec.ts";
import type { DomainEvent } from "../../events/catalogue.ts";
import { EVENT_PREFIX } from "../../events/subjects.ts";
import type { Random } from "../support/random.ts";
import { meta } from "../support/events.ts";

/** A message to publish straight onto the event stream, bypassing the codec, and why it is wrong. */
export interface HostileMessage {
  readonly kind: string;
  readonly type: string;
  readonly subject: string;
  readonly body: Buffer;
}

const HEX64 = "ab".repeat(32);

/** A plausible value for a string field, from its name (days, hashes and times have formats). */
const stringFor = (name: string): string =>
  /day$/i.test(name) ? "2026-12-30" : /sha256|inputId|hash/i.test(name) ? HEX64 : /(time|At)$/.test(name) ? "2026-12-30T01:02:03.000Z" : `fuzz-${name}`;

/**
 * A value the schema should accept, built from its AST (the shapes events use: structs, strings,
 * numbers, literals, unions, arrays, records). Good enough for most types; encodeEvent is the judge.
 */
const exampleOf = (ast: any, name = ""): unknown => {
  switch (ast?._tag) {
    case "String": return stringFor(name);
    case "Number": return 1;
    case "Boolean": return true;
    case "Null": return null;
    case "Literal": return ast.literal;
    case "Union": {
      const t = (ast.types as any[]).find((x) => x._tag !== "Null" && x._tag !== "Undefined") ?? ast.types[0];
      return exampleOf(t, name);
    }
    case "Arrays": return (ast.elements as any[]).map((e, i) => exampleOf(e, `${name}${i}`));
    case "Objects": {
      const o: Record<string, unknown> = {};
      for (const p of ast.propertySignatures as any[]) if (p.type.context?.isOptional !== true) o[p.name] = exampleOf(p.type, String(p.name));
      return o;
    }
    default: return {};
  }
};

/** One valid event of each type the builder can make (encodeEvent accepts it). */
export const validExamples = (): DomainEvent[] =>
  definitions.flatMap((d) => {
    const e = { type: d.type, data: exampleOf(d.schema.ast) } as DomainEvent;
    try {
      encodeEvent(e, meta());
      return [e];
    } catch {
      return [];
    }
  });

const body = (type: string, version: number, data: unknown) => Buffer.from(JSON.stringify({ ...meta(), type, version, data }));

/**
 * For every type of the catalogue: its payload empty, of a version that does not exist, cut short, and
 * of a wrong type in every field; for every valid example (built or taken from a real night's log):
 * the event on another family's subject, on another entity's, and one token deeper.
 */
export const hostileMessages = (r: Random, samples: ReadonlyArray<DomainEvent>): HostileMessage[] => {
  const out: HostileMessage[] = [];
  const families = [...new Set(definitions.map((d) => d.family))];
  for (const d of definitions) {
    const subject = `${EVENT_PREFIX}.${d.family}.fuzz${r.int(0, 1e9)}`;
    out.push({ kind: "empty-payload", type: d.type, subject, body: body(d.type, d.version, {}) });
    out.push({ kind: "unknown-version", type: d.type, subject, body: body(d.type, 99, {}) });
    const full = body(d.type, d.version, exampleOf(d.schema.ast));
    out.push({ kind: "cut-short", type: d.type, subject, body: full.subarray(0, r.int(1, full.length - 1)) });
    const wrong = Object.fromEntries(Object.keys(exampleOf(d.schema.ast) as object).map((k) => [k, r.pick<unknown>([[], { x: 1 }, -1.5, "\u0000", null, "x".repeat(10_000)])]));
    out.push({ kind: "wrong-types", type: d.type, subject, body: body(d.type, d.version, wrong) });
  }
  for (const e of samples) {
    const enc = encodeEvent(e, meta());
    const [, , family, ...entity] = enc.subject.split(".");
    const other = r.pick(families.filter((f) => f !== family));
    out.push({ kind: "other-family", type: e.type, subject: `${EVENT_PREFIX}.${other}.${entity.join(".")}`, body: Buffer.from(enc.body) });
    out.push({ kind: "other-entity", type: e.type, subject: `${EVENT_PREFIX}.${family}.fuzz${r.int(0, 1e9)}`, body: Buffer.from(encodeEvent(e, meta()).body) });
    out.push({ kind: "one-deeper", type: e.type, subject: `${enc.subject}.x`, body: Buffer.from(encodeEvent(e, meta()).body) });
  }
  const junk = (kind: string, b: Buffer) => out.push({ kind, type: "-", subject: `${EVENT_PREFIX}.night.fuzz${r.int(0, 1e9)}`, body: b });
  junk("unknown-type", body("NightExploded", 1, {}));
  junk("no-envelope", Buffer.from(JSON.stringify({ type: "NightStarted" })));
  junk("not-an-object", Buffer.from(r.pick(["[]", "null", '"x"', "42"])));
  junk("empty-body", Buffer.alloc(0));
  junk("binary-body", r.bytes(r.int(1, 4096)));
  junk("huge-body", Buffer.from(JSON.stringify({ ...meta(), type: "NightStarted", version: 2, data: { pad: "p".repeat(2_000_000) } })));
  junk("deep-body", Buffer.from(`{"type":"NightStarted","data":${"[".repeat(50_000)}${"]".repeat(50_000)}}`));
  return out;
};
