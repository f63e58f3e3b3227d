/**
 * The word-level vocabulary shared by the tiny models. The GGUF declares llama.cpp's WordPiece
 * ("bert") tokenizer: it lowercases, splits on whitespace and punctuation, and looks each word up
 * as "▁word"; a word not in the table becomes [UNK] whole (no sub-word pieces are stored, so it
 * can never be spelled out of fragments). `splitWords` mirrors that for ASCII text.
 */
export interface Vocabulary {
  readonly tokens: readonly string[];
  /** llama.cpp token types: 1 normal, 2 unknown, 3 control. */
  readonly types: readonly number[];
  readonly index: ReadonlyMap<string, number>;
  readonly pad: number;
  readonly unk: number;
  readonly bos: number;
  readonly eos: number;
}

/** Word-boundary marker used by llama.cpp's WordPiece tokenizer (U+2581). */
export const WORD_MARK = "\u2581";
const SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"] as const;
/**
 * Printable ASCII and whitespace as bare pieces: the tokenizer only uses them to continue a known
 * word ("gardens" -> "▁garden" "s"), but generation needs them to spell JSON ({, ", :, digits),
 * and node-llama-cpp's JSON grammars end with newlines, without which a grammar can never finish.
 */
const CHARACTERS = ["\n", "\t", " ", ...Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i))];

/** Lowercased words and single punctuation marks, in order. */
export const splitWords = (text: string): string[] => text.toLowerCase().match(/[a-z0-9]+|[^\sa-z0-9]/g) ?? [];

/** Builds the vocabulary from word counts: specials, words by count (ties alphabetical), then characters. */
export const buildVocabulary = (counts: ReadonlyMap<string, number>, minCount = 1): Vocabulary => {
  const words = [...counts].filter(([, c]) => c >= minCount)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([w]) => w);
  const tokens = [...SPECIALS, ...words.map((w) => WORD_MARK + w), ...CHARACTERS];
  const types = tokens.map((_, i) => (i === 1 ? 2 : i < SPECIALS.length ? 3 : 1));
  const index = new Map(words.map((w, i) => [w, i + SPECIALS.length] as const));
  return { tokens, types, index, pad: 0, unk: 1, bos: 2, eos: 3 };
};

/** Token ids of a text as the GGUF's tokenizer produces them (without BOS). */
export const encode = (vocab: Vocabulary, text: string): number[] =>
  splitWords(text).map((w) => vocab.index.get(w) ?? vocab.unk);

/** Counts words over lines. */
export const countWords = (lines: Iterable<string>): Map<string, number> => {
  const counts = new Map<string, number>();
  for (const line of lines) for (const w of splitWords(line)) counts.set(w, (counts.get(w) ?? 0) + 1);
  return counts;
};
