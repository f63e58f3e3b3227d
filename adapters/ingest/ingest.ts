import { createHash } from "node:crypto";
import type { ContentStore } from "../../actors/ports.ts";
import { derivedEventId } from "../../actors/ids.ts";
import type { DomainEvent } from "../../events/catalogue.ts";
import type { EventStore, Pending } from "../../events/store.ts";
import { KnownInputs, sourceKey } from "./known.ts";
import { formatOf, inputIdOf, parseStream, type InputFormat, type Piece, type Split } from "./parse.ts";
import { TEXT_FIELDS } from "./checks.ts";

/** A file to take in: its bytes, or a stream of them (standard input, a large file) read a piece at a time. */
export type IngestFile =
  | { /** The path as given ("-" for standard input). */ readonly path: string; readonly bytes: Uint8Array }
  | { readonly path: string; readonly stream: AsyncIterable<Uint8Array | string> };

export interface IngestOptions {
  readonly day: string;
  readonly format?: InputFormat;
  readonly split?: Split;
  readonly maxBytes: number;
  readonly correlationId: string;
  readonly onProgress?: (done: number, total: number) => void;
  /**
   * The airlock at ingest: which inputs are private (InputMarkedPrivate is appended for each), and,
   * when the content store lives on a remote NATS server, what of each text may be stored there.
   */
  readonly privacy?: IngestPrivacy;
}

export interface IngestPrivacy {
  /** Why an input is private (by flag, path glob or JSONL field), or undefined. */
  readonly privateOf: (path: string, metadata: Record<string, unknown> | undefined) => { by: "flag" | "path" | "field"; detail: string } | undefined;
  /** Set when the server is remote: the text it may hold (null: none), recorded as an egress by `recordRemote`. */
  readonly remote?: {
    readonly admit: (text: string, isPrivate: boolean) => { text: string | null; redactions: Readonly<Record<string, number>> };
    readonly record: (sent: string, redactions: Readonly<Record<string, number>>, texts: number, withheld: number) => Promise<void>;
  };
}

export interface IngestSummary {
  received: number;
  repeated: number;
  refused: number;
  /** Already known from the same place: nothing appended. */
  unchanged: number;
  /** Marked private (their text never leaves Node A). */
  private: number;
  /** Private inputs (or every input, under "nothing") not stored because the server is remote. */
  withheld: number;
  /** The first MAX_LISTED refusals (all of them are counted in `refused` and recorded as events). */
  refusals: Array<{ path: string; index: number; reason: string; detail: string }>;
}

const BATCH = 256;
const MAX_LISTED = 100;

/**
 * What of a record's metadata goes into the event: only declared fields. The texts (`prompt`,
 * `corrected`) go to the content store and the event keeps `<field>Sha256`; every other field goes
 * to the content store as one JSON document, named by `extraSha256`, and is forgotten with the text.
 * The document names its input, so two inputs never share it (forgetting one keeps the other's).
 */
const metadataOut = async (inputKey: string, metadata: Record<string, unknown>, content: ContentStore): Promise<Record<string, unknown>> => {
  const out: Record<string, unknown> = {};
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(metadata)) {
    if ((TEXT_FIELDS as readonly string[]).includes(k) && typeof v === "string") out[`${k}Sha256`] = await content.put(Buffer.from(v, "utf8"));
    else extra[k] = v;
  }
  if (Object.keys(extra).length > 0) out.extraSha256 = await content.put(Buffer.from(JSON.stringify({ input: inputKey, fields: extra }), "utf8"));
  return out;
};

const chunksOf = (f: IngestFile): AsyncIterable<Uint8Array | string> =>
  "bytes" in f ? (async function* () { yield f.bytes; })() : f.stream;

/**
 * Takes files in as inputs: texts go to the content store, events carry their hash. Deterministic:
 * ingesting the same files again appends nothing (known inputs and refusals are looked up in the log,
 * entity by entity, and event ids are derived from what they record, so the server dedups a race).
 */
export const ingestFiles = async (
  deps: { store: EventStore; content: ContentStore },
  files: ReadonlyArray<IngestFile>,
  opts: IngestOptions,
): Promise<IngestSummary> => {
  const summary: IngestSummary = { received: 0, repeated: 0, refused: 0, unchanged: 0, private: 0, withheld: 0, refusals: [] };
  let done = 0;
  let batch: Pending[] = [];
  const flush = async () => {
    if (batch.length > 0) await deps.store.append(batch);
    batch = [];
    opts.onProgress?.(done, done);
  };
  const time = () => new Date().toISOString();
  const push = (event: DomainEvent, key: string) =>
    batch.push({ event, metadata: { id: derivedEventId("ingest", key, 0), time: time(), actor: "ingest", causationId: null, correlationId: opts.correlationId } });
  const refusalIdOf = (path: string, piece: Extract<Piece, { refusal: string }>) =>
    createHash("sha256").update(`${path}\0${piece.index}\0${piece.refusal}\0${piece.bytes}`).digest("hex").slice(0, 32);

  /** One batch of a file's pieces: looked up in the log, texts stored, events appended. Memory: the batch. */
  const take = async (f: IngestFile, format: InputFormat, pieces: ReadonlyArray<Piece>) => {
    // Each batch asks the log afresh: what earlier batches appended is found there, not kept here.
    const known = new KnownInputs(deps.store);
    const texts = pieces.filter((p): p is Extract<Piece, { text: string }> => "text" in p);
    const ids = new Map(texts.map((t) => [t.index, inputIdOf(t.text)]));
    await known.load(texts.map((t) => ({ inputId: ids.get(t.index)!, source: sourceKey({ path: f.path, index: t.index }) })));
    await known.loadRefusals(pieces.flatMap((p) => ("refusal" in p ? [refusalIdOf(f.path, p)] : [])));
    // Store the texts first, a few at a time: an event may only name content that exists.
    const shas = new Map<number, string>();
    const privacy = new Map(texts.map((t) => [t.index, opts.privacy?.privateOf(f.path, t.metadata)]));
    const remote = opts.privacy?.remote;
    const sealed = new Map<number, string | null>();
    let fresh = texts.filter((t) => !known.has(ids.get(t.index)!));
    if (remote) {
      const redactions: Record<string, number> = {};
      let sent = "";
      for (const t of fresh) {
        const r = remote.admit(t.text, privacy.get(t.index) !== undefined);
        sealed.set(t.index, r.text);
        if (r.text !== null) sent += r.text;
        for (const [k, n] of Object.entries(r.redactions)) redactions[k] = (redactions[k] ?? 0) + n;
      }
      const withheld = fresh.filter((t) => sealed.get(t.index) === null).length;
      summary.withheld += withheld;
      if (fresh.length > 0) await remote.record(sent, redactions, fresh.length - withheld, withheld);
      fresh = fresh.filter((t) => sealed.get(t.index) !== null);
    }
    for (let i = 0; i < fresh.length; i += 16) {
      await Promise.all(fresh.slice(i, i + 16).map(async (t) => void shas.set(t.index, await deps.content.put(Buffer.from(remote ? sealed.get(t.index)! : t.text, "utf8")))));
    }
    for (const piece of pieces) {
      done++;
      if ("refusal" in piece) {
        const source = { path: f.path, format, index: piece.index };
        const refusalId = refusalIdOf(f.path, piece);
        if (known.refusalSeen(refusalId)) summary.unchanged++;
        else {
          summary.refused++;
          if (summary.refusals.length < MAX_LISTED) summary.refusals.push({ path: f.path, index: piece.index, reason: piece.refusal, detail: piece.detail });
          push({ type: "InputRefused", data: { refusalId, day: opts.day, source, reason: piece.refusal, detail: piece.detail, bytes: piece.bytes } }, `refused:${refusalId}`);
        }
      } else {
        const inputId = ids.get(piece.index)!;
        const key = sourceKey({ path: f.path, index: piece.index });
        const state = known.classify(inputId, key);
        const metadata = piece.metadata && state !== "unchanged" ? await metadataOut(`${inputId}:${key}`, piece.metadata, deps.content) : undefined;
        const source = { path: f.path, format, index: piece.index, ...(metadata ? { metadata } : {}) };
        const marked = privacy.get(piece.index);
        if (state === "new" && remote && !shas.has(piece.index)) {
          continue; // withheld from the remote server: counted above, never named there
        }
        if (marked && state !== "unchanged") {
          summary.private++;
          push({ type: "InputMarkedPrivate", data: { inputId, ...marked } }, `private:${inputId}`);
        }
        if (state === "unchanged") summary.unchanged++;
        else if (state === "repeat") {
          summary.repeated++;
          push({ type: "InputRepeated", data: { inputId, day: opts.day, source } }, `repeated:${inputId}:${key}`);
        } else {
          summary.received++;
          push({ type: "InputReceived", data: { inputId, day: opts.day, source, bytes: piece.bytes, contentSha256: shas.get(piece.index)! } }, `received:${inputId}`);
        }
      }
      if (batch.length >= BATCH) await flush();
    }
    await flush();
  };

  for (const f of files) {
    const format = opts.format ?? formatOf(f.path);
    let pieces: Piece[] = [];
    for await (const piece of parseStream(chunksOf(f), { format, maxBytes: opts.maxBytes, ...(opts.split ? { split: opts.split } : {}) })) {
      pieces.push(piece);
      if (pieces.length >= BATCH) (await take(f, format, pieces), (pieces = []));
    }
    await take(f, format, pieces);
  }
  await flush();
  return summary;
};
