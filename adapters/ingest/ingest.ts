import { createHash } from "node:crypto";
import type { ContentStore } from "../../actors/ports.ts";
import { derivedEventId } from "../../actors/ids.ts";
import type { DomainEvent } from "../../events/catalogue.ts";
import type { EventStore, Pending } from "../../events/store.ts";
import { sourceKey, type InputsIndex } from "../../projections/inputs.projection.ts";
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
 * ingesting the same files again appends nothing (known inputs and refusals are looked up in the
 * inputs projection, and event ids are derived from what they record, so the server dedups a race).
 */
export const ingestFiles = async (
  deps: { store: EventStore; content: ContentStore; known: InputsIndex },
  files: ReadonlyArray<IngestFile>,
  opts: IngestOptions,
): Promise<IngestSummary> => {
  const summary: IngestSummary = { received: 0, repeated: 0, refused: 0, unchanged: 0, refusals: [] };
  const parsed = files.map((f) => ({ f, format: opts.format ?? formatOf(f.path), pieces: [] as Piece[] }));
  for (const p of parsed) p.pieces = parseInputs(p.f.bytes, { format: p.format, maxBytes: opts.maxBytes, ...(opts.split ? { split: opts.split } : {}) });
  const total = parsed.reduce((n, p) => n + p.pieces.length, 0);
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

  for (const { f, format, pieces } of parsed) {
    const texts = pieces.filter((p): p is Extract<Piece, { text: string }> => "text" in p);
    // Store the texts first, a few at a time: an event may only name content that exists.
    const shas = new Map<number, string>();
    for (let i = 0; i < texts.length; i += 16) {
      await Promise.all(texts.slice(i, i + 16).map(async (t) => {
        const id = inputIdOf(t.text);
        if (!deps.known.inputs.has(id)) shas.set(t.index, await deps.content.put(Buffer.from(t.text, "utf8")));
      }));
    }
    for (const piece of pieces) {
      const metadata = "metadata" in piece && piece.metadata ? await textsOut(piece.metadata, deps.content) : undefined;
      const source = { path: f.path, format, index: piece.index, ...(metadata ? { metadata } : {}) };
      done++;
      if ("refusal" in piece) {
        const refusalId = createHash("sha256").update(`${f.path}\0${piece.index}\0${piece.refusal}\0${piece.bytes}`).digest("hex").slice(0, 32);
        if (deps.known.refusals.has(refusalId)) summary.unchanged++;
        else {
          summary.refused++;
          summary.refusals.push({ path: f.path, index: piece.index, reason: piece.refusal, detail: piece.detail });
          deps.known.refusals.add(refusalId);
          push({ type: "InputRefused", data: { refusalId, day: opts.day, source, reason: piece.refusal, detail: piece.detail, bytes: piece.bytes } }, `refused:${refusalId}`);
        }
      } else {
        const inputId = inputIdOf(piece.text);
        const entry = deps.known.inputs.get(inputId);
        const key = sourceKey(source);
        if (entry?.sources.includes(key)) summary.unchanged++;
        else if (entry) {
          summary.repeated++;
          entry.sources.push(key);
          push({ type: "InputRepeated", data: { inputId, day: opts.day, source } }, `repeated:${inputId}:${key}`);
        } else {
          summary.received++;
          deps.known.inputs.set(inputId, { inputId, day: opts.day, receivedSeq: 0, contentSha256: shas.get(piece.index)!, bytes: piece.bytes, sources: [key] });
          push({ type: "InputReceived", data: { inputId, day: opts.day, source, bytes: piece.bytes, contentSha256: shas.get(piece.index)! } }, `received:${inputId}`);
        }
      }
      if (batch.length >= BATCH) await flush();
    }
  }
  await flush();
  return summary;
};
