/**
 * Turns the weights computed by weights.py into the two GGUF files (`lm.gguf`, `embedder.gguf`),
 * through the tiny models' llama writer. Usage: node build/write.ts WEIGHTS_DIR OUT_DIR [lm,emb]
 * (both by default; `emb` alone rewrites only embedder.gguf: lm.gguf rebuilt on another machine differs in
 * the last bits of its floats, so a change to the embedder should not rewrite it).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gv } from "../../gguf/types.ts";
import { writeTinyLlama } from "../../tiny/llama.ts";
import type { Vocabulary } from "../../tiny/vocab.ts";

interface VocabJson { pieces: string[]; scores: number[]; types: number[]; unk: number; bos: number; eos: number }
interface Meta { V: number; R: number; K: number }

const RMS_EPS = 1e-6;

const f32 = (path: string): Float32Array => {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

/**
 * Rows of `rows` (width w) widened by one ballast unit so every row has the same squared norm N:
 * llama.cpp RMS-normalises the hidden state, which would otherwise erase each row's own scale.
 * The ballast unit's output weights (and output_norm, for the embedder) are zero, so it never shows.
 */
const withBallast = (rows: Float32Array, n: number, w: number): { data: Float32Array; norm2: number } => {
  let max = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < w; j++) s += rows[i * w + j]! ** 2;
    max = Math.max(max, s);
  }
  const norm2 = max * 1.01 + 1e-6;
  const data = new Float32Array(n * (w + 1));
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < w; j++) { const x = rows[i * w + j]!; data[i * (w + 1) + j] = x; s += x * x; }
    data[i * (w + 1) + w] = Math.sqrt(Math.max(0, norm2 - s));
  }
  return { data, norm2 };
};

export const writeEnglishModels = (weightsDir: string, outDir: string, stages: ReadonlyArray<string> = ["lm", "emb"]): void => {
  const vj = JSON.parse(readFileSync(join(weightsDir, "vocab.json"), "utf8")) as VocabJson;
  const meta = JSON.parse(readFileSync(join(weightsDir, "meta.json"), "utf8")) as Meta;
  const { V, R, K } = meta;
  const vocab: Vocabulary = { tokens: vj.pieces, types: vj.types, index: new Map(), pad: -1, unk: vj.unk, bos: vj.bos, eos: vj.eos };
  const sentencePiece = { scores: vj.scores };
  if (stages.includes("lm")) writeLm(weightsDir, outDir, vocab, sentencePiece, V, R);
  if (stages.includes("emb")) writeEmbedder(weightsDir, outDir, vocab, sentencePiece, V, K);
};

const writeLm = (weightsDir: string, outDir: string, vocab: Vocabulary, sentencePiece: { scores: number[] }, V: number, R: number): void => {
  // LM: hidden = [A[prev] (R), 1 (bias unit), ballast]; output row = [B[next], b[next], 0].
  const a = f32(join(weightsDir, "lm_a.f32")), bm = f32(join(weightsDir, "lm_b.f32")), bias = f32(join(weightsDir, "lm_bias.f32"));
  const aw = new Float32Array(V * (R + 1));
  for (let t = 0; t < V; t++) { aw.set(a.subarray(t * R, (t + 1) * R), t * (R + 1)); aw[t * (R + 1) + R] = 1; }
  const lmIn = withBallast(aw, V, R + 1);
  const d = R + 2;
  const out = new Float32Array(V * d);
  for (let t = 0; t < V; t++) { out.set(bm.subarray(t * R, (t + 1) * R), t * d); out[t * d + R] = bias[t]!; }
  writeTinyLlama(join(outDir, "lm.gguf"), {
    name: "sophont-english-bigram", vocab, dim: d, tokenEmbedding: lmIn.data, output: out, outputType: "F16",
    outputNorm: new Float32Array(d).fill(Math.sqrt(lmIn.norm2 / d + RMS_EPS)), contextLength: 1024, rmsEpsilon: RMS_EPS,
    sentencePiece, extraMetadata: [["sophont.english.kind", gv.str("subword-bigram-lm")], ["sophont.english.rank", gv.u32(R)]],
  });
};

const writeEmbedder = (weightsDir: string, outDir: string, vocab: Vocabulary, sentencePiece: { scores: number[] }, V: number, K: number): void => {
  // Embedder: hidden = [vector (K), ballast]; output_norm rescales to the vector and drops the ballast.
  const emb = withBallast(f32(join(weightsDir, "emb.f32")), V, K);
  const norm = new Float32Array(K + 1).fill(Math.sqrt(emb.norm2 / (K + 1) + RMS_EPS));
  norm[K] = 0;
  writeTinyLlama(join(outDir, "embedder.gguf"), {
    name: "sophont-english-embedder", vocab, dim: K + 1, tokenEmbedding: emb.data, outputNorm: norm,
    contextLength: 1024, pooling: "mean", rmsEpsilon: RMS_EPS, sentencePiece,
    extraMetadata: [["sophont.english.kind", gv.str("lsa-sif-idf-embedder")]],
  });
};

if (import.meta.url === `file://${process.argv[1]}`) writeEnglishModels(process.argv[2]!, process.argv[3]!, (process.argv[4] ?? "lm,emb").split(","));
