import type { Random } from "../support/random.ts";

/**
 * Hostile inputs, generated from a seed. Each generator says what ingest must do with it: refuse it
 * (with the reason), or either (take it in or refuse it: random bytes may happen to be text). Pieces
 * never contain the separator of their file, so the test knows how many inputs each file holds.
 */
export type Expect = { readonly refuse: ReadonlyArray<string> } | "either" | "take";

export interface HostilePiece {
  readonly kind: string;
  readonly bytes: Buffer;
  readonly expect: Expect;
}

const enc = (s: string) => Buffer.from(s, "utf8");
const INVISIBLES = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e", "\u034f", "\u0301", "\u0308", "\u2800", "\u3164", "\u115f"];

/** A line or paragraph generator: `text` is a real sentence (from the shipped held-out corpus). */
type Gen = (r: Random, text: string, maxBytes: number) => HostilePiece;

/** Random bytes without line feeds, never blank (a blank piece is skipped and takes no index). */
const noLf = (b: Buffer): Buffer => Buffer.concat([enc("x"), Buffer.from(b.filter((x) => x !== 0x0a && x !== 0x0d))]);

const insert = (r: Random, text: string, what: Buffer): Buffer => {
  const b = enc(text);
  // At a character boundary (an ASCII byte), so the rest stays valid UTF-8.
  let at = r.int(0, b.length);
  while (at < b.length && b[at]! >= 0x80) at++;
  return Buffer.concat([b.subarray(0, at), what, b.subarray(at)]);
};

/** One line each (no line feed inside). */
export const lineGenerators: Record<string, Gen> = {
  good: (_r, text) => ({ kind: "good", bytes: enc(text), expect: "take" }),
  "nul-inside": (r, text) => ({ kind: "nul-inside", bytes: insert(r, text, Buffer.from([0])), expect: { refuse: ["binary"] } }),
  "invisible-only": (r) => ({ kind: "invisible-only", bytes: enc(Array.from({ length: r.int(1, 40) }, () => r.pick(INVISIBLES)).join("")), expect: { refuse: ["empty"] } }),
  "invalid-utf8": (r, text) => ({ kind: "invalid-utf8", bytes: insert(r, text, Buffer.from(r.pick([[0xff], [0xc0, 0x80], [0x80], [0xe2, 0x82], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xed, 0xa0, 0x80]]))), expect: { refuse: ["invalid-utf8"] } }),
  // A lone surrogate as UTF-8 would encode it (CESU-8): not valid UTF-8.
  "lone-surrogate": (r, text) => ({ kind: "lone-surrogate", bytes: insert(r, text, Buffer.from([0xed, r.int(0xa0, 0xbf), r.int(0x80, 0xbf)])), expect: { refuse: ["invalid-utf8"] } }),
  controls: (r, text) => ({ kind: "controls", bytes: enc([...text].map((c) => (r.chance(0.4) ? String.fromCharCode(r.pick([1, 2, 3, 4, 5, 6, 7, 8, 0x0e, 0x1f, 0x7f])) : c)).join("")), expect: { refuse: ["binary"] } }),
  "random-bytes": (r) => ({ kind: "random-bytes", bytes: noLf(r.bytes(r.int(1, 400))), expect: "either" }),
  "huge-line": (r, _t, maxBytes) => ({ kind: "huge-line", bytes: Buffer.alloc(maxBytes + r.int(1, 2 * maxBytes), r.pick([0x61, 0x7a, 0x2e])), expect: { refuse: ["too-large"] } }),
  "odd-unicode": (r, text) => ({ kind: "odd-unicode", bytes: enc(`${r.pick(["\u202e", "\u200f", "\u{1f600}", "\u{10348}", "e\u0301"])}${text}${r.pick(["\u{1f9ea}", "\u05d0\u05d1", "\u4e2d\u6587"])}`), expect: "take" }),
  "deep-json": (r) => {
    const n = r.int(500, 2000);
    return { kind: "deep-json", bytes: enc("[".repeat(n) + "]".repeat(n)), expect: "either" };
  },
};

/** A JSON Lines record, one line. */
export const jsonlGenerators: Record<string, Gen> = {
  good: (r, text) => ({ kind: "good", bytes: enc(JSON.stringify({ text, from: `feed-${r.int(1, 9)}` })), expect: "take" }),
  "extra-fields": (r, text) => {
    const rec: Record<string, unknown> = { text };
    for (let i = r.int(1, 12); i > 0; i--) rec[`f${r.int(0, 999)}`] = r.pick([r.int(-1e9, 1e9), `v${r.next()}`, null, true, [1, "a", { b: 2 }], { nested: { deeper: r.next() } }]);
    if (r.chance(0.3)) rec.prompt = `Question about: ${text.slice(0, 60)}`;
    return { kind: "extra-fields", bytes: enc(JSON.stringify(rec)), expect: "take" };
  },
  "proto-key": (_r, text) => ({ kind: "proto-key", bytes: enc(`{"text":${JSON.stringify(text)},"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}`), expect: "take" }),
  "huge-metadata": (r, text) => ({ kind: "huge-metadata", bytes: enc(JSON.stringify({ text, blob: "m".repeat(r.int(17 * 1024, 600 * 1024)) })), expect: { refuse: ["too-large"] } }),
  "deep-metadata": (r, text) => {
    const n = r.int(17, 20_000);
    return { kind: "deep-metadata", bytes: enc(`{"text":${JSON.stringify(text)},"meta":${'{"a":'.repeat(n)}1${"}".repeat(n)}}`), expect: { refuse: ["malformed"] } };
  },
  "wrong-types": (r, text) => {
    const rec = r.pick<Record<string, unknown>>([
      { text: r.int(0, 99) }, { text: null }, { text: [text] }, { text: { text } }, { text: true },
      { text, prompt: 42 }, { text, corrected: [text] }, { text, prompt: { p: text } },
    ]);
    return { kind: "wrong-types", bytes: enc(JSON.stringify(rec)), expect: { refuse: ["malformed"] } };
  },
  "not-json": (r, text) => ({ kind: "not-json", bytes: enc(r.pick([`{"text":${JSON.stringify(text)}`, `{'text': 'x'}`, `{"text": NaN}`, `{"text":"a"} trailing`, "[1,2,", `"${text.slice(0, 20)}"`, "[]", "42", "null"])), expect: { refuse: ["malformed"] } }),
  "escaped-surrogate": (r, text) => ({ kind: "escaped-surrogate", bytes: enc(r.pick([`{"text":"${text.slice(0, 30)}\\ud800"}`, `{"text":"a","k\\udc00":1}`, `{"text":"a","m":"\\udbff"}`])), expect: { refuse: ["invalid-utf8", "malformed"] } }),
  "escaped-nul": (r, text) => ({ kind: "escaped-nul", bytes: enc(r.pick([`{"text":"${text.slice(0, 30)}\\u0000"}`, `{"text":"a","m":"x\\u0000"}`])), expect: { refuse: ["binary"] } }),
  "invisible-text": (r) => ({ kind: "invisible-text", bytes: enc(JSON.stringify({ text: Array.from({ length: r.int(1, 20) }, () => r.pick(INVISIBLES)).join("") })), expect: { refuse: ["empty"] } }),
};

/** Picks `n` pieces from a table of generators, each kind at least once. */
export const piecesFrom = (r: Random, gens: Record<string, Gen>, n: number, texts: ReadonlyArray<string>, maxBytes: number, weights: Record<string, number> = {}): HostilePiece[] => {
  const kinds = Object.keys(gens);
  const bag = kinds.flatMap((k) => Array<string>(weights[k] ?? 1).fill(k));
  return Array.from({ length: n }, (_, i) => gens[i < kinds.length ? kinds[i]! : r.pick(bag)]!(r, r.pick(texts), maxBytes));
};
