// The airlock for telemetry: spans bound for an OTLP endpoint pass here. Every string attribute is
// text unless its key is a known structural one (ids, types, names, versions), so an attribute added
// tomorrow is sealed by default. Text is sent as it is ("raw"), redacted by the rules ("redacted"),
// or dropped ("nothing"); text of a private command (`--private`) is dropped and a word naming a
// private path replaced, whatever the mode. The process's own arguments never leave in the resource (they name files; the
// CLI span's `sophont.cli.args` carries them, sealed). What is sent is what the exporter serialises:
// its bytes and sha256 go to the egress log (otlp-log.ts), batched.
import type { Attributes, AttributeValue, Link, SpanStatus } from "@opentelemetry/api";
import type { ExportResult } from "@opentelemetry/core";
import { resourceFromAttributes, type Resource } from "@opentelemetry/resources";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { AirlockPolicy } from "./policy.ts";
import { privatePathMatch } from "./policy.ts";
import { addCounts, redact } from "./redact.ts";
import type { OtlpBatch } from "./otlp-log.ts";

/** Attributes whose string values are ids, names or versions, never free text. */
const STRUCTURAL = [
  /^service\./, /^telemetry\./, /^host\.(name|arch|id|type)$/, /^os\.(type|version|name|description)$/,
  /^process\.(pid|runtime\.(name|version|description)|executable\.name)$/,
  /^sophont\.(actor|night|job|sender|projections|until|event\.(id|type|seq)|command\.(id|type))$/,
  /^gen_ai\./, /^exception\.type$/,
];
/** Resource attributes that echo the command line: never sent. */
const NEVER = /^process\.(command|command_args|command_line|executable\.path)$/;

const isStructural = (key: string): boolean => STRUCTURAL.some((r) => r.test(key));

/** What sealing a batch found: text values sent, withheld, and redactions per rule. */
export interface SealCounts {
  texts: number;
  withheld: number;
  redactions: Record<string, number>;
}

export const emptyCounts = (): SealCounts => ({ texts: 0, withheld: 0, redactions: {} });

/** What stands where a text named a private path. */
export const PRIVATE_PATH = "[withheld: private path]";

/** The text with every word that names a private path (airlock.private.paths) replaced. */
const withoutPrivatePaths = (policy: AirlockPolicy, text: string, c: SealCounts): string =>
  policy.privatePaths.length === 0 ? text : text.split(/(\s+)/).map((t) => (/\S/.test(t) && privatePathMatch(policy, t) !== undefined ? (c.withheld++, PRIVATE_PATH) : t)).join("");

/** One text value under the policy: the text to send, or undefined when it must not leave. */
const sealText = (policy: AirlockPolicy, text: string, isPrivate: boolean, c: SealCounts): string | undefined => {
  const mode = policy.destinations.otlp;
  if (text === "") return text;
  if (isPrivate || mode === "nothing") {
    c.withheld++;
    return undefined;
  }
  c.texts++;
  const kept = withoutPrivatePaths(policy, text, c);
  if (mode === "raw") return kept;
  const r = redact(kept, policy.rules);
  addCounts(c.redactions, r.counts);
  return r.text;
};

const sealValue = (policy: AirlockPolicy, key: string, v: AttributeValue, isPrivate: boolean, c: SealCounts): AttributeValue | undefined => {
  if (isStructural(key)) return v;
  if (typeof v === "string") return sealText(policy, v, isPrivate, c);
  if (Array.isArray(v)) {
    if (!v.some((x) => typeof x === "string")) return v;
    const out = (v as ReadonlyArray<string | null | undefined>).map((x) => (typeof x === "string" ? sealText(policy, x, isPrivate, c) : x));
    return out.every((x) => x === undefined) ? undefined : (out.filter((x) => x !== undefined) as string[]);
  }
  return v;
};

/** The attributes as they may leave (dropped keys absent). */
export const sealAttributes = (policy: AirlockPolicy, attrs: Attributes, isPrivate: boolean, c: SealCounts): Attributes => {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || NEVER.test(k)) continue;
    const s = sealValue(policy, k, v, isPrivate, c);
    if (s !== undefined) out[k] = s;
  }
  return out;
};

/** A span as it may leave: its attributes, events, links and status message sealed; ids and times kept. */
export const sealSpan = (policy: AirlockPolicy, s: ReadableSpan, resource: Resource, c: SealCounts): ReadableSpan => {
  const isPrivate = s.attributes["sophont.private"] === true;
  const status: SpanStatus = s.status.message === undefined ? s.status : (() => {
    const message = sealText(policy, s.status.message, isPrivate, c);
    return message === undefined ? { code: s.status.code } : { code: s.status.code, message };
  })();
  return {
    name: s.name,
    kind: s.kind,
    spanContext: () => s.spanContext(),
    ...(s.parentSpanContext ? { parentSpanContext: s.parentSpanContext } : {}),
    startTime: s.startTime,
    endTime: s.endTime,
    duration: s.duration,
    ended: s.ended,
    status,
    attributes: sealAttributes(policy, s.attributes, isPrivate, c),
    links: s.links.map((l): Link => ({ ...l, ...(l.attributes ? { attributes: sealAttributes(policy, l.attributes, isPrivate, c) } : {}) })),
    events: s.events.map((e) => ({ ...e, ...(e.attributes ? { attributes: sealAttributes(policy, e.attributes, isPrivate, c) } : {}) })),
    resource,
    instrumentationScope: s.instrumentationScope,
    droppedAttributesCount: s.droppedAttributesCount,
    droppedEventsCount: s.droppedEventsCount,
    droppedLinksCount: s.droppedLinksCount,
  };
};

/** Turns spans into the request body an exporter sends (the same serialiser it uses). */
export type SpanSerializer = (spans: ReadableSpan[]) => Uint8Array;

/**
 * A SpanExporter in front of the real OTLP exporter: seals each batch, hands the sealed spans to it,
 * and tells `onSent` the exact bytes its serialiser makes of them (the request body before any
 * transport compression), when the batch is handed over, whatever the endpoint answers.
 */
export class AirlockSpanExporter implements SpanExporter {
  private readonly resources = new WeakMap<Resource, Resource>();

  constructor(
    private readonly inner: SpanExporter,
    private readonly policy: AirlockPolicy,
    private readonly serialize: SpanSerializer,
    private readonly onSent: (batch: OtlpBatch) => void,
  ) {}

  private resourceOf(r: Resource, c: SealCounts): Resource {
    let sealed = this.resources.get(r);
    if (!sealed) {
      // Counted once per resource: it is the same in every batch of this process.
      sealed = resourceFromAttributes(sealAttributes(this.policy, r.attributes, false, c), r.schemaUrl ? { schemaUrl: r.schemaUrl } : {});
      this.resources.set(r, sealed);
    }
    return sealed;
  }

  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    const counts = emptyCounts();
    const sealed = spans.map((s) => sealSpan(this.policy, s, this.resourceOf(s.resource, counts), counts));
    let body: Uint8Array;
    try {
      body = this.serialize(sealed);
    } catch (e) {
      return done({ code: 1, error: e as Error });
    }
    this.onSent({ body, spans: sealed.length, ...counts });
    this.inner.export(sealed, done);
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}
