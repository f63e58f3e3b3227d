import { existsSync } from "node:fs";

/** The shipped English models' folder (next to this file). */
export const englishModelsDir = new URL("./", import.meta.url).pathname;

export interface EnglishModels {
  readonly lmPath: string;
  readonly embedderPath: string;
  readonly dir: string;
}

/**
 * The project's default models: a subword bigram LM and a PPMI+SVD (SIF) embedder over one
 * SentencePiece vocabulary with byte fallback, built from freely licensed English shipped by Debian
 * (SOURCES.md) by `build/build.sh`, and shipped as built files (README.md).
 */
export const englishModels = (): EnglishModels => {
  const lmPath = new URL("./lm.gguf", import.meta.url).pathname;
  const embedderPath = new URL("./embedder.gguf", import.meta.url).pathname;
  for (const p of [lmPath, embedderPath]) {
    if (!existsSync(p)) throw new Error(`the shipped English model ${p} is missing: restore it from git (git checkout -- ${p}) or rebuild it with adapters/llm/english/build/build.sh`);
  }
  return { lmPath, embedderPath, dir: englishModelsDir };
};
