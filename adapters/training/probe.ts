// The shipped general-English probe set (probe/general-en.txt, CC0), and the share of its tokens a
// model does not know: a word-level model turns unknown words into one [UNK], which says nothing of
// forgetting, so the share is reported with every evaluation.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { metaValue, readGguf } from "../llm/gguf/reader.ts";
import { splitWords, WORD_MARK } from "../llm/tiny/vocab.ts";

export const probePath = fileURLToPath(new URL("probe/general-en.txt", import.meta.url));

/** llama.cpp's token type of a byte-fallback piece (`<0x00>`..`<0xFF>`). */
const BYTE_TOKEN = 6;

/**
 * The share of the probe's words a model cannot represent: for a WordPiece ("bert") vocabulary
 * like the tiny models', the words outside it; 0 for a byte-level BPE ("gpt2") and for a
 * SentencePiece ("llama") vocabulary with all 256 byte pieces (the default English models): every
 * text tokenizes there without an unknown piece. null when it cannot be told.
 */
export const unknownShare = (modelPath: string, texts: readonly string[]): number | null => {
  const file = readGguf(modelPath);
  const kind = metaValue(file, "tokenizer.ggml.model");
  if (kind === "gpt2") return 0;
  if (kind === "llama") {
    const types = file.metadata.get("tokenizer.ggml.token_type");
    const bytes = types?.kind === "array" ? (types.value as unknown[]).filter((t) => Number(t) === BYTE_TOKEN).length : 0;
    return bytes >= 256 ? 0 : null;
  }
  if (kind !== "bert") return null;
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
