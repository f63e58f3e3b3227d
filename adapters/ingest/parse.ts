import { createHash } from "node:crypto";

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

/** NUL bytes, or many control characters, mean the data is not text. */
const looksBinary = (bytes: Uint8Array): boolean => {
  const n = Math.min(bytes.length, 8192);
  let control = 0;
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!;
    if (b === 0) return true;
    if (b < 9 || (b > 13 && b < 32)) control++;
  }
  return n > 0 && control / n > 0.1;
};

const pieceOf = (index: number, raw: string, maxBytes: number, metadata?: Record<string, unknown>): Piece => {
  const text = normalise(raw);
  const bytes = Buffer.byteLength(text, "utf8");
  if (text.length === 0) return { index, refusal: "empty", detail: "nothing but white space", bytes: Buffer.byteLength(raw) };
  if (bytes > maxBytes) return { index, refusal: "too-large", detail: `${bytes} bytes, over the hard maximum of ${maxBytes}`, bytes };
  return metadata ? { index, text, bytes, metadata } : { index, text, bytes };
};

const cut = (text: string, split: Split): string[] => {
  if (split === "file") return [text];
  if (split === "line") return text.split(/\r?\n/).filter((l) => l.trim().length > 0);
  return text.split(/(?:\r?\n[ \t]*){2,}/).filter((p) => p.trim().length > 0);
};

const jsonlPieces = (text: string, maxBytes: number): Piece[] =>
  text.split(/\r?\n/).flatMap((line, index): Piece[] => {
    if (line.trim().length === 0) return [];
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch (e) {
      return [{ index, refusal: "malformed", detail: `line ${index + 1} is not JSON: ${(e as Error).message}`, bytes: Buffer.byteLength(line) }];
    }
    if (typeof rec !== "object" || rec === null || typeof (rec as { text?: unknown }).text !== "string") {
      return [{ index, refusal: "malformed", detail: `line ${index + 1} has no string field "text"`, bytes: Buffer.byteLength(line) }];
    }
    const { text: t, ...metadata } = rec as { text: string } & Record<string, unknown>;
    return [pieceOf(index, t, maxBytes, Object.keys(metadata).length > 0 ? metadata : undefined)];
  });

/**
 * Cuts a file's bytes into inputs. Never throws: what cannot be taken in comes back as a refusal
 * with its reason, so nothing is dropped silently.
 */
export const parseInputs = (bytes: Uint8Array, options: ParseOptions): Piece[] => {
  if (bytes.length === 0) return [{ index: 0, refusal: "empty", detail: "the file is empty", bytes: 0 }];
  if (looksBinary(bytes)) return [{ index: 0, refusal: "binary", detail: "binary data (NUL or control bytes), not text", bytes: bytes.length }];
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return [{ index: 0, refusal: "invalid-utf8", detail: "the bytes are not valid UTF-8", bytes: bytes.length }];
  }
  if (options.format === "jsonl") return jsonlPieces(text, options.maxBytes);
  const pieces = cut(text, options.split ?? defaultSplit[options.format]).map((t, i) => pieceOf(i, t, options.maxBytes));
  return pieces.length > 0 ? pieces : [{ index: 0, refusal: "empty", detail: "nothing but white space", bytes: bytes.length }];
};
