import { type Vocabulary, encode } from "./vocab.ts";
import { writeTinyLlama } from "./llama.ts";
import { gv } from "../gguf/types.ts";

/** Bigram statistics with Witten-Bell smoothing; `logProb[prev * V + next]` is natural-log P(next | prev). */
export interface BigramTable {
  readonly size: number;
  readonly logProb: Float64Array;
}

const RMS_EPS = 1e-6;

/** Smoothed unigram: add-half over emittable tokens; PAD and BOS are never predicted (tiny mass only). */
const unigram = (vocab: Vocabulary, counts: Float64Array, total: number): Float64Array => {
  const v = vocab.tokens.length;
  const p = new Float64Array(v);
  const floor = 1e-9;
  let sum = 0;
  for (let i = 0; i < v; i++) {
    p[i] = i === vocab.pad || i === vocab.bos ? floor : (counts[i]! + 0.5) / (total + 0.5 * v);
    sum += p[i]!;
  }
  for (let i = 0; i < v; i++) p[i] = p[i]! / sum;
  return p;
};

/**
 * Counts bigrams over sentences framed as [CLS] w1 .. wn [SEP] and smooths each row with
 * Witten-Bell: P(w|v) = (c(v,w) + T(v) P_uni(w)) / (c(v) + T(v)), T(v) = distinct followers of v.
 */
export const bigramTable = (vocab: Vocabulary, lines: readonly string[]): BigramTable => {
  const v = vocab.tokens.length;
  const pair = new Map<number, number>();
  const uni = new Float64Array(v);
  let total = 0;
  for (const line of lines) {
    const ids = [vocab.bos, ...encode(vocab, line), vocab.eos];
    for (let i = 1; i < ids.length; i++) {
      const key = ids[i - 1]! * v + ids[i]!;
      pair.set(key, (pair.get(key) ?? 0) + 1);
      uni[ids[i]!]!++;
      total++;
    }
  }
  const pUni = unigram(vocab, uni, total);
  const rowCount = new Float64Array(v);
  const rowTypes = new Float64Array(v);
  for (const [key, c] of pair) { rowCount[Math.floor(key / v)]! += c; rowTypes[Math.floor(key / v)]!++; }
  const logProb = new Float64Array(v * v);
  for (let prev = 0; prev < v; prev++) {
    const c = rowCount[prev]!, t = rowTypes[prev]!;
    for (let next = 0; next < v; next++) {
      logProb[prev * v + next] = c === 0 ? Math.log(pUni[next]!) : Math.log((t * pUni[next]!) / (c + t));
    }
  }
  for (const [key, n] of pair) {
    const prev = Math.floor(key / v), next = key % v;
    const c = rowCount[prev]!, t = rowTypes[prev]!;
    logProb[key] = Math.log((n + t * pUni[next]!) / (c + t));
  }
  return { size: v, logProb };
};

/**
 * Compiles a bigram table into llama weights. Hidden size = vocabulary size; token t embeds as
 * the one-hot e_t, the block adds zero, RMS norm turns e_t into sqrt(V) e_t (undone by
 * output_norm = 1/sqrt(V)), and row j of output.weight holds log P(j | ·), so the logits at a
 * position after token t are exactly the bigram log-probabilities (softmax leaves them unchanged).
 */
export const writeBigramLm = (path: string, vocab: Vocabulary, table: BigramTable, contextLength = 1024): void => {
  const v = table.size;
  const embd = new Float32Array(v * v);
  for (let t = 0; t < v; t++) embd[t * v + t] = 1;
  const output = new Float32Array(v * v);
  for (let prev = 0; prev < v; prev++) {
    for (let next = 0; next < v; next++) output[next * v + prev] = table.logProb[prev * v + next]!;
  }
  const norm = new Float32Array(v).fill(Math.sqrt(1 / v + RMS_EPS));
  writeTinyLlama(path, {
    name: "sophont-tiny-bigram", vocab, dim: v, tokenEmbedding: embd, output, outputNorm: norm,
    contextLength, rmsEpsilon: RMS_EPS,
    extraMetadata: [["sophont.tiny.kind", gv.str("bigram-lm")]],
  });
};
