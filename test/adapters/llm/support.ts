import { readFileSync } from "node:fs";
import { join } from "node:path";
import { prng } from "../../../adapters/llm/tiny/corpusgen/generate.ts";
import { makeTinyModels, shippedCorpusDir, type TinyModels } from "../../../adapters/llm/tiny/factory.ts";

const repoRoot = new URL("../../../", import.meta.url).pathname;

/** Where tests keep built tiny models: reused across runs, keyed by the corpus + code hash. */
export const tinyCacheDir = join(repoRoot, "node_modules", ".cache", "sophont-tiny");

/**
 * The tiny LM and embedder built from the shipped corpus, once per cache key (the first call in
 * a run builds them in about a second; later calls and later runs reuse the files).
 */
export const tinyModels = (): TinyModels => makeTinyModels({ corpusDir: shippedCorpusDir, outDir: tinyCacheDir });

export { shippedCorpusDir };

/** Non-empty lines of a corpus split file, e.g. corpusLines("heldout", "sailing"). */
export const corpusLines = (split: "train" | "heldout" | "novel", topic: string): string[] =>
  readFileSync(join(shippedCorpusDir, split, `${topic}.txt`), "utf8").split("\n").filter((l) => l.trim().length > 0);

/** The six training topics of the shipped corpus. */
export const TOPICS = ["astronomy", "cooking", "gardening", "medicine", "sailing", "software-operations"] as const;

/** Seeded Fisher-Yates shuffle of a text's words. */
export const shuffleWords = (text: string, seed: number): string => {
  const rand = prng(seed);
  const w = text.split(/\s+/);
  for (let i = w.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [w[i], w[j]] = [w[j]!, w[i]!];
  }
  return w.join(" ");
};

/** Seeded random printable bytes (random bytes proper would not survive as a JS string). */
export const randomText = (length: number, seed: number): string => {
  const rand = prng(seed);
  return Array.from({ length }, () => String.fromCharCode(32 + Math.floor(rand() * 95))).join("");
};
