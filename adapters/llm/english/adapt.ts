import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { metaValue, readGguf, readTensorF32 } from "../gguf/reader.ts";
import { gv, type GgufTensor, type GgufValue } from "../gguf/types.ts";
import { writeGguf } from "../gguf/writer.ts";
import { llamaRuntime } from "../runtime.ts";
import { englishModels } from "./models.ts";

/** Bump when the adaptation's arithmetic changes, so earlier outputs are not reused. */
export const ADAPT_CODE_VERSION = "adapt-v1";

export interface AdaptOptions {
  /** Folder of the user's texts (*.txt, *.md, read recursively), or one file. */
  readonly corpus: string;
  readonly outDir: string;
  /** λ: how far each piece's log-probability moves towards the user's texts (0 = unchanged, 1 = fully). */
  readonly weight: number;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface Adapted {
  readonly lmPath: string;
  readonly embedderPath: string;
  readonly dir: string;
  readonly hash: string;
  readonly cached: boolean;
  readonly pieces: number;
  readonly files: number;
}

const textFiles = (path: string): string[] => {
  if (statSync(path).isFile()) return [path];
  return readdirSync(path, { recursive: true, encoding: "utf8" })
    .filter((f) => /\.(txt|md)$/i.test(f)).sort().map((f) => join(path, f)).filter((f) => statSync(f).isFile());
};

/**
 * Adapts the default English LM to a user's texts by minimum discrimination information on
 * unigrams (Kneser, Peters & Klakow 1997), in log-linear form: every piece's logit after every
 * context moves by λ·ln((c_user + 1) / (E_general + 1)), where E_general is how often the general
 * model expects that piece over the user's own contexts. The bigram structure of general English
 * stays as it is (the shift is one column of the bias unit), so nothing general is forgotten and the
 * user's texts are not memorised; λ and the corpus hash are written into the GGUF. The embedder is
 * the default one, copied next to it so the pair travels together.
 */
export const adaptEnglishModels = async (opts: AdaptOptions): Promise<Adapted> => {
  if (!(opts.weight >= 0 && opts.weight <= 1)) throw new Error(`the weight must be between 0 and 1, got ${opts.weight}`);
  if (!existsSync(opts.corpus)) throw new Error(`${opts.corpus} does not exist: give a folder of .txt/.md files or one file`);
  const files = textFiles(opts.corpus);
  if (files.length === 0) throw new Error(`no .txt or .md files under ${opts.corpus}`);
  const base = englishModels();
  const h = createHash("sha256").update(ADAPT_CODE_VERSION).update(`\0${opts.weight}\0`).update(readFileSync(base.lmPath));
  const texts = files.map((f) => readFileSync(f, "utf8"));
  for (const t of texts) h.update("\0").update(t);
  const hash = h.digest("hex").slice(0, 16);
  const dir = join(opts.outDir, hash);
  const lmPath = join(dir, "lm.gguf"), embedderPath = join(dir, "embedder.gguf");
  if (existsSync(lmPath) && existsSync(embedderPath)) return { lmPath, embedderPath, dir, hash, cached: true, pieces: 0, files: files.length };

  const file = readGguf(base.lmPath);
  const v = Number(metaValue(file, "llama.vocab_size"));
  const d = Number(metaValue(file, "llama.embedding_length"));
  const rank = Number(metaValue(file, "sophont.english.rank"));
  const eps = Number(metaValue(file, "llama.attention.layer_norm_rms_epsilon"));
  const bos = Number(metaValue(file, "tokenizer.ggml.bos_token_id")), eos = Number(metaValue(file, "tokenizer.ggml.eos_token_id"));
  const embd = readTensorF32(base.lmPath, file, "token_embd.weight");
  const out = readTensorF32(base.lmPath, file, "output.weight");
  const norm = readTensorF32(base.lmPath, file, "output_norm.weight");

  // Pieces of the user's texts, by llama.cpp's own tokenizer (the one that will score them).
  const llama = await llamaRuntime({});
  const model = await llama.loadModel({ modelPath: base.lmPath, vocabOnly: true, gpuLayers: 0 });
  const user = new Float64Array(v);
  const contexts = new Map<number, number>();
  let pieces = 0;
  try {
    for (const text of texts) {
      for (const line of text.split(/\n\s*\n/)) {
        if (line.trim() === "") continue;
        const ids = [bos, ...model.tokenize(line.trim()).map(Number), eos];
        for (let i = 1; i < ids.length; i++) {
          user[ids[i]!]!++;
          contexts.set(ids[i - 1]!, (contexts.get(ids[i - 1]!) ?? 0) + 1);
          pieces++;
        }
      }
    }
  } finally { await model.dispose(); }
  if (pieces === 0) throw new Error(`the texts under ${opts.corpus} hold no words`);

  // E_general[next] = sum over the user's contexts of count(prev) · P_general(next | prev).
  const expected = new Float64Array(v);
  const hidden = new Float64Array(d);
  const logits = new Float64Array(v);
  let done = 0;
  for (const [prev, n] of contexts) {
    let ss = 0;
    for (let j = 0; j < d; j++) ss += embd[prev * d + j]! ** 2;
    const rms = Math.sqrt(ss / d + eps);
    for (let j = 0; j < d; j++) hidden[j] = (embd[prev * d + j]! / rms) * norm[j]!;
    let max = -Infinity;
    for (let t = 0; t < v; t++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += out[t * d + j]! * hidden[j]!;
      logits[t] = s;
      if (s > max) max = s;
    }
    let z = 0;
    for (let t = 0; t < v; t++) z += Math.exp(logits[t]! - max);
    for (let t = 0; t < v; t++) expected[t]! += (n * Math.exp(logits[t]! - max)) / z;
    opts.onProgress?.(++done, contexts.size);
  }
  const adapted = Float32Array.from(out);
  for (let t = 0; t < v; t++) adapted[t * d + rank]! += opts.weight * Math.log((user[t]! + 1) / (expected[t]! + 1));

  mkdirSync(dir, { recursive: true });
  const metadata = new Map<string, GgufValue>(file.metadata);
  metadata.set("general.name", gv.str("sophont-english-bigram-adapted"));
  metadata.set("sophont.adapt.weight", gv.f32(opts.weight));
  metadata.set("sophont.adapt.corpus_sha256", gv.str(hash));
  metadata.set("sophont.adapt.pieces", gv.u32(pieces));
  const tensors: GgufTensor[] = file.tensors.map((t) => ({
    name: t.name, shape: t.shape, type: t.type === 0 ? "F32" : "F16",
    data: t.name === "output.weight" ? adapted : readTensorF32(base.lmPath, file, t.name),
  }));
  writeGguf(lmPath, metadata, tensors);
  copyFileSync(base.embedderPath, embedderPath);
  return { lmPath, embedderPath, dir, hash, cached: false, pieces, files: files.length };
};
