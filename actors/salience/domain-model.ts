/**
 * The domain's own small language model, for Moore & Lewis's data selection (2010): a text belongs to
 * the domain when the domain's model finds it more predictable, relative to the general model, than
 * other texts are. A case-folded byte 5-gram with Witten-Bell interpolation: no tokenizer (so its
 * bits per byte compare with any general model's), fit in one pass, deterministic, and its state is
 * a projection of the texts it was fit on (the seeded questions and the accepted inputs).
 */

/** Context bytes before the predicted one: a 5-gram. */
export const DOMAIN_ORDER = 4;

export interface DomainModel {
  /** Counts by context (latin1 string of up to DOMAIN_ORDER bytes): total, distinct followers, followers. */
  readonly contexts: Map<string, { total: number; types: number; next: Map<number, number> }>;
  readonly texts: number;
  readonly bytes: number;
}

const fold = (text: string): Uint8Array => Buffer.from(text.replace(/\s+/g, " ").trim().toLowerCase(), "utf8");

const key = (b: Uint8Array, from: number, to: number): string => {
  let s = "";
  for (let i = from; i < to; i++) s += String.fromCharCode(b[i]!);
  return s;
};

/** Adds (sign 1) or takes away (sign -1) one text's counts, in place. */
const add = (m: DomainModel["contexts"], b: Uint8Array, sign: 1 | -1 = 1) => {
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    for (let n = 0; n <= DOMAIN_ORDER && n <= i; n++) {
      const k = key(b, i - n, i);
      const ctx = m.get(k) ?? m.set(k, { total: 0, types: 0, next: new Map() }).get(k)!;
      const before = ctx.next.get(c) ?? 0;
      const after = before + sign;
      if (before === 0) ctx.types++;
      if (after === 0) (ctx.types--, ctx.next.delete(c));
      else ctx.next.set(c, after);
      ctx.total += sign;
      if (ctx.total === 0) m.delete(k);
    }
  }
};

/** A model fit on texts, in their order (the order does not change the counts). */
export const fitDomainModel = (texts: ReadonlyArray<string>): DomainModel => {
  const contexts: DomainModel["contexts"] = new Map();
  let bytes = 0;
  for (const t of texts) {
    const b = fold(t);
    bytes += b.length;
    add(contexts, b);
  }
  return { contexts, texts: texts.length, bytes };
};

/** P(c | the n bytes before i), interpolated down to a uniform guess over 256 bytes. */
const prob = (m: DomainModel, b: Uint8Array, i: number): number => {
  let p = 1 / 256;
  for (let n = 0; n <= DOMAIN_ORDER && n <= i; n++) {
    const ctx = m.contexts.get(key(b, i - n, i));
    if (!ctx) break; // a longer context than an unseen one is unseen too
    p = ((ctx.next.get(b[i]!) ?? 0) + ctx.types * p) / (ctx.total + ctx.types);
  }
  return p;
};

/** Bits per byte of a text under the model (8 for a model fit on nothing). */
export const domainBitsPerByte = (m: DomainModel, text: string): number => {
  const b = fold(text);
  if (b.length === 0) return 8;
  let bits = 0;
  for (let i = 0; i < b.length; i++) bits -= Math.log2(prob(m, b, i));
  return bits / b.length;
};

/**
 * Bits per byte of a text the model was fit on, under the model less that text: what it would score
 * had the model never seen it. The counts are taken away and put back, so the model is unchanged after.
 */
export const heldOutBitsPerByte = (m: DomainModel, text: string): number => {
  const b = fold(text);
  add(m.contexts, b, -1);
  try {
    return domainBitsPerByte(m, text);
  } finally {
    add(m.contexts, b, 1);
  }
};

/**
 * Bits per byte of each text under a model of all the others (leave-one-out): what a text the model
 * never saw scores, for texts that are in the model (the seeded questions). Each text is scored by a model
 * refit without it (seed sets are small).
 */
export const leaveOneOutBitsPerByte = (texts: ReadonlyArray<string>): number[] =>
  texts.map((_, k) => domainBitsPerByte(fitDomainModel(texts.filter((__, j) => j !== k)), texts[k]!));

/**
 * Runs `f` on the model with `texts` taken away (their counts subtracted, then put back): what a model
 * fit without them would say. Cross-fitting scores each text by the model less its fold this way.
 */
export const withoutTexts = <T>(m: DomainModel, texts: ReadonlyArray<string>, f: () => T): T => {
  const folded = texts.map(fold);
  for (const b of folded) add(m.contexts, b, -1);
  try {
    return f();
  } finally {
    for (const b of folded) add(m.contexts, b, 1);
  }
};
