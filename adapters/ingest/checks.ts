import type { RefusalReason } from "./parse.ts";

/** Why a text or a record is refused at the door. */
export interface Problem {
  readonly reason: RefusalReason;
  readonly detail: string;
}

/** Metadata of a JSON Lines record (every field but the texts) is held to this, serialised. */
export const METADATA_MAX_BYTES = 16 * 1024;
/** And nested no deeper than this. */
export const METADATA_MAX_DEPTH = 16;
/** Fields of a record that hold texts: checked as texts, stored in the content store, hashed in the event. */
export const TEXT_FIELDS = ["prompt", "corrected"] as const;

// Nothing a reader could see: white space, format characters (zero-width, bidi marks, BOM), controls,
// combining marks alone, and the fillers and blanks some scripts draw as nothing.
const INVISIBLE = /^[\s\p{Cf}\p{Cc}\p{Z}\p{M}\u115F\u1160\u3164\uFFA0\u2800\u180E]*$/u;
// What text does not contain: controls other than tab, line ends, form feed and escape (logs keep
// their colours), unassigned and private-use code points, and the replacement character.
const BINARYISH = /[\x00-\x08\x0E-\x1A\x1C-\x1F\x7F-\x9F\p{Cn}\p{Co}\uFFFD]/gu;

const isWellFormed = (s: string): boolean =>
  typeof (s as { isWellFormed?: () => boolean }).isWellFormed === "function"
    ? (s as unknown as { isWellFormed: () => boolean }).isWellFormed()
    : !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);

/** The first lone surrogate's offset (only JSON escapes can make one; UTF-8 cannot encode it). */
const loneSurrogateAt = (s: string): number => s.search(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);

/**
 * Whether a decoded text may be taken in: no NUL anywhere, no lone surrogate, not made only of
 * invisible characters, not mostly characters text does not contain (a binary blob that happens to
 * decode). Undefined when it may.
 */
export const checkText = (s: string): Problem | undefined => {
  const nul = s.indexOf("\u0000");
  if (nul >= 0) return { reason: "binary", detail: `a NUL character at offset ${nul}: binary data, not text` };
  if (!isWellFormed(s)) return { reason: "invalid-utf8", detail: `a lone surrogate at offset ${loneSurrogateAt(s)}: not encodable as UTF-8` };
  if (s.length > 0 && INVISIBLE.test(s) && s.trim().length > 0) return { reason: "empty", detail: "only invisible characters (zero-width, format or control characters)" };
  const odd = s.match(BINARYISH)?.length ?? 0;
  if (odd > 0 && odd * 10 > [...s].length) return { reason: "binary", detail: `${odd} of ${[...s].length} characters are controls or unassigned code points: binary data, not text` };
  return undefined;
};

const short = (k: string) => JSON.stringify(k.length > 40 ? `${k.slice(0, 40)}…` : k);

/**
 * Whether a record's metadata may be taken in: nested at most METADATA_MAX_DEPTH deep (walked without
 * recursion, so no depth overflows a stack), no NUL or lone surrogate in any key or string, text
 * fields that are texts, and the rest at most METADATA_MAX_BYTES serialised.
 */
export const checkRecord = (metadata: Record<string, unknown>, maxBytes: number): Problem | undefined => {
  const stack: Array<{ v: unknown; depth: number; path: string; text?: boolean }> = [{ v: metadata, depth: 1, path: "" }];
  let strings = 0;
  while (stack.length > 0) {
    const { v, depth, path, text } = stack.pop()!;
    if (typeof v === "string") {
      if (v.includes("\u0000")) return { reason: "binary", detail: `a NUL character in field ${short(path)}` };
      if (!isWellFormed(v)) return { reason: "invalid-utf8", detail: `a lone surrogate in field ${short(path)}` };
      if (!text) strings += v.length;
      continue;
    }
    if (typeof v !== "object" || v === null) continue;
    if (depth > METADATA_MAX_DEPTH) return { reason: "malformed", detail: `metadata nested deeper than ${METADATA_MAX_DEPTH} levels (at ${short(path)})` };
    for (const [k, x] of Object.entries(v)) {
      if (k.includes("\u0000") || !isWellFormed(k)) return { reason: "malformed", detail: "a field name with a NUL or a lone surrogate" };
      const isText = depth === 1 && (TEXT_FIELDS as readonly string[]).includes(k);
      stack.push({ v: x, depth: depth + 1, path: path ? `${path}.${k}` : k, ...(isText || text ? { text: true } : {}) });
    }
  }
  for (const f of TEXT_FIELDS) {
    const t = metadata[f];
    if (t === undefined) continue;
    if (typeof t !== "string") return { reason: "malformed", detail: `field ${f} must be a string (a text), got ${Array.isArray(t) ? "an array" : typeof t}` };
    const p = checkText(t);
    if (p) return { reason: p.reason, detail: `field ${f}: ${p.detail}` };
    if (Buffer.byteLength(t) > maxBytes) return { reason: "too-large", detail: `field ${f} has ${Buffer.byteLength(t)} bytes, over the hard maximum of ${maxBytes}` };
  }
  const rest = Object.fromEntries(Object.entries(metadata).filter(([k]) => !(TEXT_FIELDS as readonly string[]).includes(k)));
  // A cheap lower bound first, so a huge record is not serialised only to be refused.
  const size = strings > METADATA_MAX_BYTES * 4 ? strings : Buffer.byteLength(JSON.stringify(rest));
  if (size > METADATA_MAX_BYTES) {
    const names = Object.keys(rest).slice(0, 5).map(short).join(", ");
    return { reason: "too-large", detail: `metadata of ${size} bytes, over the bound of ${METADATA_MAX_BYTES} (fields ${names}${Object.keys(rest).length > 5 ? ", …" : ""})` };
  }
  return undefined;
};
