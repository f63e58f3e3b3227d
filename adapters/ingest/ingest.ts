import { createHash } from "node:crypto";
import type { ContentStore } from "../../actors/ports.ts";
import { derivedEventId } from "../../actors/ids.ts";
import type { DomainEvent } from "../../events/catalogue.ts";
import type { EventStore, Pending } from "../../events/store.ts";
import { KnownInputs, sourceKey } from "./known.ts";
import { formatOf, inputIdOf, parseInputs, type InputFormat, type Piece, type Split } from "./parse.ts";

export interface IngestFile {
  /** The path as given ("-" for standard input). */
  readonly path: string;
  readonly bytes: Uint8Array;
}

export interface IngestOptions {
  readonly day: string;
  readonly format?: InputFormat;
  readonly split?: Split;
  readonly maxBytes: number;
  readonly correlationId: string;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface IngestSummary {
  received: number;
  repeated: number;
  refused: number;
  /** Already known from the same place: nothing appended. */
  unchanged: number;
  refusals: Array<{ path: string; index: number; reason: string; detail: string }>;
}

const BATCH = 256;

/** Fields of a record that hold texts: they go to the content store, the event keeps `<field>Sha256`. */
const TEXT_FIELDS = ["prompt", "corrected"];

const textsOut = async (metadata: Record<string, unknown>, content: ContentStore): Promise<Record<string, unknown>> => {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(metadata)) {
    if (TEXT_FIELDS.includes(k) && typeof v === "string") out[`${k}Sha256`] = await content.put(Buffer.from(v, "utf8"));
    else out[k] = v;
  }
  return out;
};

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
  const summary: IngestSummary = { received: 0, repeated: 0, refused: 0, unchanged: 0, refusals: [] };
  const parsed = files.map((f) => ({ f, format: opts.format ?? formatOf(f.path), pieces: [] as Piece[] }));
  for (const p of parsed) p.pieces = parseInputs(p.f.bytes, { format: p.format, maxBytes: opts.maxBytes, ...(opts.split ? { split: opts.split } : {}) });
  const total = parsed.reduce((n, p) => n + p.pieces.length, 0);
  const known = new KnownInputs(deps.store);
  let done = 0;
  let batch: Pending[] = [];
  const flush = async () => {
    if (batch.length > 0) await deps.store.append(batch);
    batch = [];
    opts.onProgress?.(done, total);
  };
  const time = () => new Date().toISOString();
  const push = (event: DomainEvent, key: string) =>
    batch.push({ event, metadata: { id: derivedEventId("ingest", key, 0), time: time(), actor: "ingest", causationId: null, correlationId: opts.correlationId } });
  const refusalIdOf = (path: string, piece: Extract<Piece, { refusal: string }>) =>
    createHash("sha256").update(`${path}\0${piece.index}\0${piece.refusal}\0${piece.bytes}`).digest("hex").slice(0, 32);

  for (const { f, format, pieces } of parsed) {
    const texts = pieces.filter((p): p is Extract<Piece, { text: string }> => "text" in p);
    const ids = new Map(texts.map((t) => [t.index, inputIdOf(t.text)]));
    await known.load(texts.map((t) => ({ inputId: ids.get(t.index)!, source: sourceKey({ path: f.path, index: t.index }) })));
    await known.loadRefusals(pieces.flatMap((p) => ("refusal" in p ? [refusalIdOf(f.path, p)] : [])));
    // Store the texts first, a few at a time: an event may only name content that exists.
    const shas = new Map<number, string>();
    const fresh = texts.filter((t) => !known.has(ids.get(t.index)!));
    for (let i = 0; i < fresh.length; i += 16) {
      await Promise.all(fresh.slice(i, i + 16).map(async (t) => void shas.set(t.index, await deps.content.put(Buffer.from(t.text, "utf8")))));
    }
    for (const piece of pieces) {
      const metadata = "metadata" in piece && piece.metadata ? await textsOut(piece.metadata, deps.content) : undefined;
      const source = { path: f.path, format, index: piece.index, ...(metadata ? { metadata } : {}) };
      done++;
      if ("refusal" in piece) {
        const refusalId = refusalIdOf(f.path, piece);
        if (known.refusalSeen(refusalId)) summary.unchanged++;
        else {
          summary.refused++;
          summary.refusals.push({ path: f.path, index: piece.index, reason: piece.refusal, detail: piece.detail });
          push({ type: "InputRefused", data: { refusalId, day: opts.day, source, reason: piece.refusal, detail: piece.detail, bytes: piece.bytes } }, `refused:${refusalId}`);
        }
      } else {
        const inputId = ids.get(piece.index)!;
        const key = sourceKey(source);
        const state = known.classify(inputId, key);
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
  }
  await flush();
  return summary;
};
