import type { EventStore } from "../../events/store.ts";
import { eventSubject } from "../../events/subjects.ts";

/** `path#index`: one place an input was taken in from. */
export const sourceKey = (s: { readonly path: string; readonly index: number }): string => `${s.path}#${s.index}`;

/** What the log holds about one input: where it came from, and whether it was forgotten. */
export interface InputRecord {
  readonly inputId: string;
  readonly day: string;
  readonly receivedSeq: number;
  readonly contentSha256: string;
  readonly bytes: number;
  /** `path#index` of every place it arrived from; the first one received it. */
  readonly sources: string[];
  readonly forgotten: boolean;
}

const LOOKUPS_IN_FLIGHT = 64;

/** Runs `f` over `items`, at most `LOOKUPS_IN_FLIGHT` at a time, keeping the order of the answers. */
const pooled = async <T, R>(items: readonly T[], f: (x: T) => Promise<R>): Promise<R[]> => {
  const out: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(LOOKUPS_IN_FLIGHT, items.length) }, lane));
  return out;
};

/**
 * One input's history, walked on its own subject through the server's subject index: no consumer,
 * no projection held in memory. `firstOnly` stops after `InputReceived` (the cheap check that
 * answers a plain re-ingest of the same file).
 */
export const readInput = async (store: EventStore, inputId: string, firstOnly = false): Promise<InputRecord | undefined> => {
  const subject = eventSubject("input", inputId);
  const first = await store.nextOnSubject(subject);
  if (!first || first.type !== "InputReceived") return undefined;
  const d = first.data;
  const record = { inputId, day: d.day, receivedSeq: first.seq, contentSha256: d.contentSha256, bytes: d.bytes, sources: [sourceKey(d.source)], forgotten: false };
  if (firstOnly) return record;
  for (let e = await store.nextOnSubject(subject, first.seq + 1); e; e = await store.nextOnSubject(subject, e.seq + 1)) {
    if (e.type === "InputRepeated" && !record.sources.includes(sourceKey(e.data.source))) record.sources.push(sourceKey(e.data.source));
    if (e.type === "InputForgotten") record.forgotten = true;
  }
  return record;
};

/**
 * What ingest needs to know before it appends: which inputs and refusals the log already holds, and
 * from where. Each answer comes from the log itself, one entity at a time, so ingest costs memory
 * for the files at hand, not for every input ever taken in. Inputs this run adds are remembered here.
 */
export class KnownInputs {
  private readonly inputs = new Map<string, { sources: string[]; complete: boolean }>();
  private readonly refusals = new Set<string>();

  constructor(private readonly store: EventStore) {}

  /**
   * Looks up the inputs of a file before it is taken in: first the inputs not seen yet in this run
   * (their first source: enough for a plain re-ingest), then, for those arriving from a place not
   * among the sources known so far, their whole history. Both at LOOKUPS_IN_FLIGHT at a time.
   */
  async load(arrivals: ReadonlyArray<{ readonly inputId: string; readonly source: string }>): Promise<void> {
    const missing = [...new Set(arrivals.map((a) => a.inputId))].filter((id) => !this.inputs.has(id));
    const found = await pooled(missing, (id) => readInput(this.store, id, true));
    found.forEach((r) => r && this.inputs.set(r.inputId, { sources: r.sources, complete: false }));
    const partial = [...new Set(arrivals.filter((a) => {
      const known = this.inputs.get(a.inputId);
      return known !== undefined && !known.complete && !known.sources.includes(a.source);
    }).map((a) => a.inputId))];
    const full = await pooled(partial, (id) => readInput(this.store, id));
    full.forEach((r) => r && this.inputs.set(r.inputId, { sources: r.sources, complete: true }));
  }

  /** Looks up refusals not seen yet in this run. */
  async loadRefusals(refusalIds: readonly string[]): Promise<void> {
    const missing = [...new Set(refusalIds)].filter((id) => !this.refusals.has(id));
    const seqs = await pooled(missing, (id) => this.store.lastSubjectSeq(eventSubject("refusal", id)));
    missing.forEach((id, i) => seqs[i]! > 0 && this.refusals.add(id));
  }

  /** After `load`: whether the input is in the log (or was added by this run). */
  has(inputId: string): boolean {
    return this.inputs.has(inputId);
  }

  /**
   * Where the input stands against one more place it came from (after `load` for that arrival): new
   * to the log, a repeat from a place not recorded yet, or already recorded from there. Records the answer.
   */
  classify(inputId: string, source: string): "new" | "repeat" | "unchanged" {
    const known = this.inputs.get(inputId);
    if (!known) {
      this.inputs.set(inputId, { sources: [source], complete: true });
      return "new";
    }
    if (known.sources.includes(source)) return "unchanged";
    known.sources.push(source);
    return "repeat";
  }

  /** Whether the refusal is recorded; records it when it is not. */
  refusalSeen(refusalId: string): boolean {
    if (this.refusals.has(refusalId)) return true;
    this.refusals.add(refusalId);
    return false;
  }
}
