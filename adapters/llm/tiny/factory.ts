import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { prng } from "./corpusgen/generate.ts";
import { defaultEmbedderOptions, wordVectors, writeEmbedder } from "./embedder.ts";
import { bigramTable, writeBigramLm } from "./lm.ts";
import { buildVocabulary, countWords } from "./vocab.ts";

/**
 * Bump when anything that changes the bytes of the tiny models changes (writer, compiler,
 * embedder, vocabulary rules), so cached models are rebuilt.
 */
export const TINY_MODELS_CODE_VERSION = "tiny-v4";

/** The shipped corpus, next to this file. */
export const shippedCorpusDir = new URL("./corpus/", import.meta.url).pathname;

export interface TinyModels {
  readonly lmPath: string;
  readonly embedderPath: string;
  /** Directory holding both, named by the build hash. */
  readonly dir: string;
  readonly hash: string;
  /** True when this call found them already built. */
  readonly cached: boolean;
}

/** Training lines: every non-empty line of `<corpusDir>/train/*.txt`, files in name order. */
export const readTrainingLines = (corpusDir: string): { files: string[]; lines: string[] } => {
  const trainDir = join(corpusDir, "train");
  const files = readdirSync(trainDir).filter((f) => f.endsWith(".txt")).sort();
  if (files.length === 0) throw new Error(`no training texts in ${trainDir}`);
  const lines = files.flatMap((f) => readFileSync(join(trainDir, f), "utf8").split("\n").map((l) => l.trim()).filter((l) => l.length > 0));
  return { files, lines };
};

const buildHash = (corpusDir: string, files: readonly string[]): string => {
  const h = createHash("sha256").update(TINY_MODELS_CODE_VERSION);
  for (const f of files) h.update(`\0${f}\0`).update(readFileSync(join(corpusDir, "train", f)));
  return h.digest("hex").slice(0, 16);
};

/**
 * Builds the tiny bigram LM and PPMI+SVD embedder from a corpus, deterministically, into
 * `<outDir>/<hash>/`; the hash covers the training files and the code version, so a second
 * call (or another process) reuses the files. Writes are atomic, so concurrent builders are safe.
 */
export const makeTinyModels = (opts: { corpusDir: string; outDir: string }): TinyModels => {
  const { files, lines } = readTrainingLines(opts.corpusDir);
  const hash = buildHash(opts.corpusDir, files);
  const dir = join(opts.outDir, hash);
  const lmPath = join(dir, "lm.gguf");
  const embedderPath = join(dir, "embedder.gguf");
  if (existsSync(lmPath) && existsSync(embedderPath)) return { lmPath, embedderPath, dir, hash, cached: true };
  mkdirSync(dir, { recursive: true });
  const vocab = buildVocabulary(countWords(lines));
  writeBigramLm(lmPath, vocab, bigramTable(vocab, lines));
  const opt = defaultEmbedderOptions;
  writeEmbedder(embedderPath, vocab, wordVectors(vocab, lines, opt, prng(7)), opt.dimension);
  writeFileSync(join(dir, "manifest.json"), JSON.stringify({
    hash, codeVersion: TINY_MODELS_CODE_VERSION, trainingFiles: files, sentences: lines.length,
    vocabularySize: vocab.tokens.length, embedderDimension: opt.dimension,
  }, null, 2) + "\n");
  return { lmPath, embedderPath, dir, hash, cached: false };
};
