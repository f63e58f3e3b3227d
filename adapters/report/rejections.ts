// Rejections by cause, with a few example texts: what a person reads to see why inputs were turned away.
// The texts are the derived ones (the distilled question, the decision's reason) as the airlock seals
// them for agents (adapters/egress/derived.ts): the report is a file people send on, and the dashboard
// may be read from another machine. Private and forgotten inputs show no text at all. An input's own
// text is added only by a caller that may show it (the dashboard on loopback: `withInputText`).
import type { DomainEvent } from "../../events/catalogue.ts";
import type { Recorded } from "../../events/envelope.ts";
import type { EgressMode } from "../../events/egress.ts";
import { sealEvent } from "../egress/derived.ts";
import { Egress } from "../egress/egress.ts";
import type { AirlockPolicy } from "../egress/policy.ts";
import type { EventStore } from "../../events/store.ts";

export interface RejectionExample {
  readonly inputId: string;
  readonly seq: number;
  readonly nightId: string;
  /** The distilled question, sealed (null: none, or withheld). */
  readonly question: string | null;
  /** Why, sealed. */
  readonly reason: string;
  /** The input's own text, only where the caller may show it. */
  text?: string;
}

export interface RejectionsByCause {
  /** Cause -> how many, up to the point drawn. */
  readonly counts: Record<string, number>;
  /** Cause -> the latest few examples. */
  readonly examples: Record<string, RejectionExample[]>;
}

/** How derived text is read: the airlock, the mode agents get, and who is private or forgotten. */
export interface TextView {
  readonly egress: Egress;
  readonly mode: EgressMode;
  /** Inputs whose texts are never shown: marked private, or forgotten (anywhere in the log, even after the point drawn). */
  readonly hidden: ReadonlySet<string>;
}

/** Reads the inputs marked private or forgotten in the whole log: their texts are never shown. */
export const hiddenInputs = async (read: AsyncIterable<Recorded<DomainEvent>>): Promise<Set<string>> => {
  const ids = new Set<string>();
  for await (const e of read) if (e.type === "InputMarkedPrivate" || e.type === "InputForgotten") ids.add(e.data.inputId);
  return ids;
};

/** Folds InputScored and InputRejected into counts and examples; keeps each scored input's sealed question for the scatter. */
export class RejectionCollector {
  readonly view: RejectionsByCause = { counts: {}, examples: {} };
  /** inputId -> the sealed question text, for every input scored. */
  readonly questions = new Map<string, string | null>();
  private readonly redactions: Record<string, number> = {};

  constructor(private readonly text: TextView, private readonly perCause = 3) {}

  add(e: Recorded<DomainEvent>): void {
    if (e.type !== "InputScored" && e.type !== "InputRejected") return;
    const id = e.data.inputId;
    const hidden = this.text.hidden.has(id);
    const sealed = sealEvent(e, this.text.egress, this.text.mode, hidden, this.redactions);
    if (sealed.type === "InputScored") {
      this.questions.set(id, hidden ? null : sealed.data.question.text);
      return;
    }
    if (sealed.type !== "InputRejected") return;
    const cause = sealed.data.cause;
    this.view.counts[cause] = (this.view.counts[cause] ?? 0) + 1;
    const list = (this.view.examples[cause] ??= []);
    list.push({ inputId: id, seq: e.seq, nightId: sealed.data.nightId, question: this.questions.get(id) ?? null, reason: sealed.data.reason });
    if (list.length > this.perCause) list.shift();
  }
}

/**
 * Adds the inputs' own texts (to the rejection examples and the Antechamber's questions), read through
 * `read` (the content store, by the input's sha256). `raw`: as they are, for a reader on Node A itself
 * (the dashboard on loopback); otherwise sealed as for agents (redacted, or nothing under "nothing").
 * Never a private or forgotten input's: those are not asked for.
 */
export const withInputText = async (items: Iterable<{ readonly inputId: string; text?: string }>, text: TextView, read: (inputId: string) => Promise<string | undefined>, raw: boolean): Promise<void> => {
  for (const item of items) {
    if (text.hidden.has(item.inputId)) continue;
    const t = await read(item.inputId);
    const shown = t === undefined ? null : raw ? t : text.egress.seal("agents", t, false).text;
    if (shown !== null) item.text = shown.length > 600 ? `${shown.slice(0, 600)}…` : shown;
  }
};

/** Every place a collected report shows an input's own text: the rejection examples, the Antechamber's points. */
export const textItems = (d: { readonly rejections: RejectionsByCause; readonly rejected: Iterable<{ readonly inputId: string; text?: string }> }) => [...Object.values(d.rejections.examples).flat(), ...d.rejected];

/** Reads an input's text from the content store by the sha256 its InputReceived names (a text is immutable: kept in `cache`). */
export const inputTextReader = (contentOf: ReadonlyMap<string, string>, content: { get(sha256: string): Promise<Uint8Array | undefined> }, cache = new Map<string, string>()) => async (inputId: string): Promise<string | undefined> => {
  const sha = contentOf.get(inputId);
  if (sha === undefined) return undefined;
  const known = cache.get(sha);
  if (known !== undefined) return known;
  const bytes = await content.get(sha).catch(() => undefined);
  if (bytes === undefined) return undefined;
  const t = Buffer.from(bytes).toString("utf8");
  if (cache.size > 10_000) cache.clear();
  cache.set(sha, t);
  return t;
};

/** The view agents get under this policy, with the log's private and forgotten inputs hidden. */
export const agentsTextView = async (store: EventStore, policy: AirlockPolicy): Promise<TextView> => {
  const egress = new Egress(store, policy);
  return { egress, mode: egress.mode("agents"), hidden: await hiddenInputs(store.read({ types: new Set(["InputMarkedPrivate", "InputForgotten"]) })) };
};
