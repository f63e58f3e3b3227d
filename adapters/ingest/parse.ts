import { createHash } from "node:crypto";
import { checkText, checkRecord } from "./checks.ts";

export type InputFormat = "text" | "markdown" | "jsonl" | "log";
/** How a text, Markdown or log file is cut into inputs. JSON Lines is always one input per record. */
export type Split = "file" | "paragraph" | "line";

export type RefusalReason = "binary" | "invalid-utf8" | "empty" | "too-large" | "malformed";

/** One piece of a file: either a text to take in, or the reason it cannot be. */
export type Piece =
  | { readonly index: number; readonly text: string; readonly bytes: number; readonly metadata?: Record<string, unknown> }
  | { readonly index: number; readonly refusal: RefusalReason; readonly detail: string; readonly bytes: number };

export interface ParseOptions {
  readonly format: InputFormat;
  readonly split?: Split;
  /** The hard maximum of one input, in bytes of UTF-8. */
  readonly maxBytes: number;
}

export const defaultSplit: Record<InputFormat, Split> = { text: "paragraph", markdown: "file", log: "line", jsonl: "line" };

/** The format a path's name suggests. */
export const formatOf = (path: string): InputFormat => {
  if (/\.(md|markdown)$/i.test(path)) return "markdown";
  if (/\.(jsonl|ndjson)$/i.test(path)) return "jsonl";
  if (/\.log(\.\d+)?$/i.test(path)) return "log";
  return "text";
};

/** Texts are compared after this: Unicode NFC, LF line ends, no trailing spaces, no outer blank lines. */
export const normalise = (text: string): string =>
  text.normalize("NFC").replace(/\r\n?/g, "\n").split("\n").map((l) => l.replace(/[ \t]+$/, "")).join("\n").trim();

/** An input's id: the sha256 (hex) of its normalised text. The same text is the same input. */
export const inputIdOf = (normalised: string): string => createHash("sha256").update(normalised, "utf8").digest("hex");

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The first bytes of a file decide whether it is text at all: NUL bytes, or many control characters. */
const HEAD = 8192;
const looksBinary = (bytes: Uint8Array): boolean => {
  const n = Math.min(bytes.length, HEAD);
  let control = 0;
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!;
    if (b === 0) return true;
    if (b < 9 || (b > 13 && b < 32)) control++;
  }
  return n > 0 && control / n > 0.1;
};

/**
 * The raw bytes of one piece are held up to this; a longer piece is refused as too large while it
 * streams past, never held whole (so a 100 MB line costs no more memory than a short one).
 */
export const rawLimit = (maxBytes: number): number => Math.max(2 * maxBytes, maxBytes + 1024 * 1024);

const pieceOf = (index: number, raw: string, maxBytes: number, metadata?: Record<string, unknown>): Piece => {
  const problem = checkText(raw);
  if (problem) return { index, refusal: problem.reason, detail: problem.detail, bytes: Buffer.byteLength(raw) };
  const text = normalise(raw);
  const bytes = Buffer.byteLength(text, "utf8");
  if (text.length === 0) return { index, refusal: "empty", detail: "nothing but white space", bytes: Buffer.byteLength(raw) };
  if (bytes > maxBytes) return { index, refusal: "too-large", detail: `${bytes} bytes, over the hard maximum of ${maxBytes}`, bytes };
  return metadata ? { index, text, bytes, metadata } : { index, text, bytes };
};

const decode = (raw: Uint8Array): string | undefined => {
  try {
    return utf8.decode(raw);
  } catch {
    return undefined;
  }
};

const INVALID = "the bytes are not valid UTF-8 (the rest of the file is read on)";

/** A blank line as the paragraph rule sees it: only spaces and tabs, and a CR before its LF. */
const blankLine = (b: Buffer): boolean => {
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c !== 0x20 && c !== 0x09 && !(c === 0x0d && i === b.length - 1)) return false;
  }
  return true;
};

type Raw = { readonly bytes: Buffer } | { readonly oversize: number };

/**
 * Cuts a byte stream into pieces incrementally, at line feeds (ASCII, so never inside a UTF-8
 * sequence): lines, paragraphs (runs of non-blank lines) or the whole file. Each piece is decoded on
 * its own, so one invalid byte refuses its piece, not the file. Memory: one piece, up to the raw limit.
 */
export class Parser {
  private readonly split: Split;
  private readonly limit: number;
  private line: Buffer[] = [];
  private lineBytes = 0;
  /** Whether the line being skipped (too long to hold) had anything but spaces and tabs. */
  private lineDirty = false;
  /** The piece being gathered (a paragraph's lines, or the whole file). */
  private piece: Buffer[] = [];
  private pieceBytes = 0;
  private oversize = 0;
  private lineNo = 0;
  private index = 0;
  private total = 0;
  private head: Buffer[] = [];
  private headBytes = 0;
  private binary = false;
  private produced = 0;

  constructor(private readonly options: ParseOptions) {
    this.split = options.format === "jsonl" ? "line" : (options.split ?? defaultSplit[options.format]);
    this.limit = rawLimit(options.maxBytes);
  }

  push(chunk: Uint8Array): Piece[] {
    this.total += chunk.length;
    if (this.binary) return [];
    if (this.headBytes < HEAD) {
      this.head.push(Buffer.from(chunk));
      this.headBytes += chunk.length;
      if (this.headBytes < HEAD) return [];
      return this.afterHead();
    }
    return this.feed(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }

  end(): Piece[] {
    const out = this.headBytes < HEAD && !this.binary ? this.afterHead() : [];
    if (this.binary) return [{ index: 0, refusal: "binary", detail: "binary data (NUL or control bytes), not text", bytes: this.total }];
    if (this.total === 0) return [{ index: 0, refusal: "empty", detail: "the file is empty", bytes: 0 }];
    out.push(...this.endLine(), ...this.endPiece());
    if (this.produced === 0 && out.length === 0) out.push({ index: 0, refusal: "empty", detail: "nothing but white space", bytes: this.total });
    return out;
  }

  private afterHead(): Piece[] {
    const head = Buffer.concat(this.head);
    this.head = [];
    this.headBytes = HEAD;
    if (looksBinary(head)) {
      this.binary = true;
      return [];
    }
    return this.feed(head);
  }

  private feed(buf: Buffer): Piece[] {
    const out: Piece[] = [];
    let from = 0;
    for (let nl = buf.indexOf(10, from); nl >= 0; nl = buf.indexOf(10, from)) {
      this.addToLine(buf.subarray(from, nl));
      out.push(...this.endLine());
      from = nl + 1;
    }
    if (from < buf.length) this.addToLine(buf.subarray(from));
    return out;
  }

  private addToLine(part: Buffer): void {
    if (this.lineBytes + part.length > this.limit || this.oversize > 0) {
      // Too long to be one input whatever happens next: counted, not held.
      if (this.oversize === 0 || this.lineBytes + part.length > this.limit || !blankLine(part)) this.lineDirty = true;
      this.oversize += this.lineBytes + this.pieceBytes + part.length;
      this.line = [];
      this.piece = [];
      this.lineBytes = this.pieceBytes = 0;
      return;
    }
    if (part.length > 0) (this.line.push(Buffer.from(part)), (this.lineBytes += part.length));
  }

  private endLine(): Piece[] {
    const oversize = this.oversize;
    const line = this.line.length === 1 ? this.line[0]! : Buffer.concat(this.line);
    const dirty = this.lineDirty;
    this.line = [];
    this.lineBytes = 0;
    this.lineDirty = false;
    const lineNo = this.lineNo++;
    if (this.split === "line") {
      this.oversize = 0;
      return this.emit(oversize > 0 ? { oversize } : { bytes: line }, lineNo);
    }
    if (this.split === "paragraph" && (oversize > 0 ? !dirty : blankLine(line))) return this.endPiece();
    if (oversize > 0) return [];
    if (this.pieceBytes + line.length + 1 > this.limit) {
      this.oversize = this.pieceBytes + line.length + 1;
      this.piece = [];
      this.pieceBytes = 0;
      return [];
    }
    if (this.piece.length > 0) this.piece.push(NEWLINE);
    this.piece.push(line);
    this.pieceBytes += line.length + 1;
    return [];
  }

  private endPiece(): Piece[] {
    if (this.split === "line") return [];
    const oversize = this.oversize;
    this.oversize = 0;
    if (oversize === 0 && this.piece.length === 0) return [];
    const bytes = Buffer.concat(this.piece);
    this.piece = [];
    this.pieceBytes = 0;
    return this.emit(oversize > 0 ? { oversize } : { bytes }, this.lineNo);
  }

  /** Decodes and judges one raw piece; blank pieces are skipped and take no index. */
  private emit(raw: Raw, lineNo: number): Piece[] {
    const jsonl = this.options.format === "jsonl";
    if ("oversize" in raw) {
      const index = jsonl ? lineNo : this.index++;
      this.produced++;
      const what = jsonl ? `line ${lineNo + 1}` : this.split === "file" ? "the file" : "this piece";
      return [{ index, refusal: "too-large", detail: `${what} has over ${raw.oversize} bytes, over the hard maximum of ${this.options.maxBytes}`, bytes: raw.oversize }];
    }
    const text = decode(raw.bytes);
    if (text !== undefined && text.trim().length === 0) return [];
    this.produced++;
    if (jsonl) {
      if (text === undefined) return [{ index: lineNo, refusal: "invalid-utf8", detail: `line ${lineNo + 1}: ${INVALID}`, bytes: raw.bytes.length }];
      return [jsonlPiece(text.endsWith("\r") ? text.slice(0, -1) : text, lineNo, this.options.maxBytes)];
    }
    const index = this.index++;
    if (text === undefined) return [{ index, refusal: "invalid-utf8", detail: INVALID, bytes: raw.bytes.length }];
    return [pieceOf(index, text, this.options.maxBytes)];
  }
}

const NEWLINE = Buffer.from("\n");

const jsonlPiece = (line: string, index: number, maxBytes: number): Piece => {
  const bytes = Buffer.byteLength(line);
  let rec: unknown;
  try {
    rec = JSON.parse(line);
  } catch (e) {
    return { index, refusal: "malformed", detail: `line ${index + 1} is not JSON: ${(e as Error).message.slice(0, 200)}`, bytes };
  }
  if (typeof rec !== "object" || rec === null || Array.isArray(rec) || typeof (rec as { text?: unknown }).text !== "string") {
    return { index, refusal: "malformed", detail: `line ${index + 1} has no string field "text"`, bytes };
  }
  const { text: t, ...metadata } = rec as { text: string } & Record<string, unknown>;
  const problem = checkRecord(metadata, maxBytes);
  if (problem) return { index, refusal: problem.reason, detail: `line ${index + 1}: ${problem.detail}`, bytes };
  return pieceOf(index, t, maxBytes, Object.keys(metadata).length > 0 ? metadata : undefined);
};

/**
 * Cuts a file's bytes into inputs. Never throws: what cannot be taken in comes back as a refusal
 * with its reason, so nothing is dropped silently.
 */
export const parseInputs = (bytes: Uint8Array, options: ParseOptions): Piece[] => {
  const p = new Parser(options);
  return [...p.push(bytes), ...p.end()];
};

/** The same, on a stream, a piece at a time: memory stays one piece, whatever the stream's length. */
export async function* parseStream(source: AsyncIterable<Uint8Array | string>, options: ParseOptions): AsyncIterable<Piece> {
  const p = new Parser(options);
  for await (const chunk of source) yield* p.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  yield* p.end();
}
