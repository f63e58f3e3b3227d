import { gv } from "../gguf/types.ts";
import { writeTinyLlama } from "./llama.ts";
import { type SparseRows, topSingular } from "./svd.ts";
import { type Vocabulary, encode } from "./vocab.ts";

/** Options of the PPMI+SVD word vectors. */
export interface EmbedderOptions {
  readonly dimension: number;
  /** A word found in more than this share of the sentences is a function word: its vector is zero. */
  readonly stopShare: number;
  /** Context-distribution smoothing exponent (Levy et al. use 0.75). */
  readonly alpha: number;
}

export const defaultEmbedderOptions: EmbedderOptions = { dimension: 48, stopShare: 0.08, alpha: 0.75 };

/** Word x word co-occurrence within a sentence (a sentence is one topic's context), as PPMI rows. */
const ppmi = (vocab: Vocabulary, sentences: readonly number[][], alpha: number, skip: ReadonlySet<number>): SparseRows => {
  const n = vocab.tokens.length;
  const pair = new Map<number, number>();
  for (const ids of sentences) {
    const uniq = [...new Set(ids)].filter((t) => !skip.has(t));
    for (const a of uniq) for (const b of uniq) if (a !== b) pair.set(a * n + b, (pair.get(a * n + b) ?? 0) + 1);
  }
  const rowSum = new Float64Array(n);
  const colSum = new Float64Array(n);
  let total = 0;
  for (const [key, c] of pair) { rowSum[Math.floor(key / n)]! += c; colSum[key % n]! += c; total += c; }
  const colPow = colSum.map((c) => c ** alpha);
  const colPowTotal = colPow.reduce((a, b) => a + b, 0);
  const rows: Array<Array<[number, number]>> = Array.from({ length: n }, () => []);
  for (const [key, c] of pair) {
    const r = Math.floor(key / n), col = key % n;
    const pmi = Math.log((c / total) / ((rowSum[r]! / total) * (colPow[col]! / colPowTotal)));
    if (pmi > 0) rows[r]!.push([col, pmi]);
  }
  const rowStart = new Int32Array(n + 1);
  rows.forEach((r, i) => { rowStart[i + 1] = rowStart[i]! + r.length; });
  const col = new Int32Array(rowStart[n]!);
  const val = new Float64Array(rowStart[n]!);
  rows.forEach((r, i) => r.sort((a, b) => a[0] - b[0]).forEach(([c, v], j) => { col[rowStart[i]! + j] = c; val[rowStart[i]! + j] = v; }));
  return { n, rowStart, col, val };
};

/** Tokens that appear in more than `share` of the sentences, plus the specials (ids below 4). */
const stopTokens = (vocab: Vocabulary, sentences: readonly number[][], share: number): Set<number> => {
  const df = new Map<number, number>();
  for (const ids of sentences) for (const t of new Set(ids)) df.set(t, (df.get(t) ?? 0) + 1);
  const stop = new Set<number>([vocab.pad, vocab.unk, vocab.bos, vocab.eos]);
  for (const [t, c] of df) if (c > share * sentences.length) stop.add(t);
  return stop;
};

/**
 * Learns word vectors (rows of U·sqrt(Σ) of the PPMI matrix) and returns them row-major
 * [vocab][dimension]; function words and specials get zero vectors so pooling ignores their direction.
 */
export const wordVectors = (vocab: Vocabulary, lines: readonly string[], opts: EmbedderOptions, rand: () => number): Float32Array => {
  const sentences = lines.map((l) => encode(vocab, l));
  const stop = stopTokens(vocab, sentences, opts.stopShare);
  const m = ppmi(vocab, sentences, opts.alpha, stop);
  const k = opts.dimension;
  const { vectors, values } = topSingular(m, k, 12, rand);
  const out = new Float32Array(vocab.tokens.length * k);
  for (let t = 0; t < vocab.tokens.length; t++) {
    if (stop.has(t)) continue;
    for (let j = 0; j < k; j++) out[t * k + j] = vectors[t * k + j]! * Math.sqrt(values[j]!);
  }
  return out;
};

/**
 * Writes the embedding model: token_embd = word vectors, one pass-through block, output_norm = 1,
 * llama.pooling_type = mean. llama.cpp RMS-normalises each token's vector before pooling, so
 * every content word counts equally and a zero vector (function word) counts not at all.
 */
export const writeEmbedder = (path: string, vocab: Vocabulary, vectors: Float32Array, dimension: number, contextLength = 1024): void =>
  writeTinyLlama(path, {
    name: "sophont-tiny-embedder", vocab, dim: dimension, tokenEmbedding: vectors,
    outputNorm: new Float32Array(dimension).fill(1), contextLength, pooling: "mean", rmsEpsilon: 1e-6,
    extraMetadata: [["sophont.tiny.kind", gv.str("ppmi-svd-embedder")]],
  });
