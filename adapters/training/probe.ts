// The shipped general-English probe set (probe/general-en.txt, CC0), and the share of its tokens a
// model does not know: a word-level model turns unknown words into one [UNK], which says nothing of
// forgetting, so the share is reported with every evaluation.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { metaValue, readGguf } from "../llm/gguf/reader.ts";
import { splitWords, WORD_MARK } from "../llm/tiny/vocab.ts";

export const probePath = fileURLToPath(new URL("probe/general-en.txt", import.meta.url));

/** Unknown-token share for a WordPiece ("bert") vocabulary like the tiny models'; null for others (sub-word tokenizers know every text). */
export const unknownShare = (modelPath: string, texts: readonly string[]): number | null => {
  const file = readGguf(modelPath);
  if (metaValue(file, "tokenizer.ggml.model") !== "bert") return null;
  const tokens = file.metadata.get("tokenizer.ggml.tokens");
  if (tokens?.kind !== "array") return null;
  const known = new Set((tokens.value as string[]).filter((t) => t.startsWith(WORD_MARK)).map((t) => t.slice(WORD_MARK.length)));
  const words = texts.flatMap((t) => splitWords(t));
  return words.length === 0 ? 0 : words.filter((w) => !known.has(w)).length / words.length;
};

/** The probe texts (one a line) and their unknown share under the model at `modelPath`. */
export const loadProbe = (modelPath: string, path = probePath): { texts: string[]; unknownShare: number | null } => {
  const texts = readFileSync(path, "utf8").split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
  return { texts, unknownShare: unknownShare(modelPath, texts) };
};
