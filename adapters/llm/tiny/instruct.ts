import { readGguf } from "../gguf/reader.ts";
import { type GgufValue, gv } from "../gguf/types.ts";
import { writeGgufStreamed } from "../gguf/writer.ts";
import { englishModels } from "../english/models.ts";
import { llamaShapeMetadata, randomLlamaTensors, type RandomLlamaShape } from "./random.ts";

/**
 * ChatML, as Qwen2 and many others ship it: `<|im_start|>role\ncontent<|im_end|>\n` per message and
 * `<|im_start|>assistant\n` as the generation prompt. node-llama-cpp recognises it (resolveChatWrapper).
 */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** Instruction-shaped models the tests and the instruct-night benchmark make (random weights). */
export const INSTRUCT_SHAPES = {
  /** Tests: every figure small, the English pieces and the two ChatML tokens only (8,194). */
  test: { vocabSize: 8_194, dim: 64, layers: 2, heads: 2, feedForward: 128, contextLength: 4096, tiedOutput: false, seed: 21 },
  /** A llama-2 / Mistral sized vocabulary. */
  v32k: { vocabSize: 32_000, dim: 256, layers: 4, heads: 4, feedForward: 768, contextLength: 4096, tiedOutput: false, seed: 22 },
  /** A Qwen2.5 sized vocabulary (151,936), tied output as in Qwen2.5-0.5B. */
  v152k: { vocabSize: 151_936, dim: 256, layers: 4, heads: 4, feedForward: 768, contextLength: 4096, tiedOutput: true, seed: 23 },
} as const satisfies Record<string, RandomLlamaShape>;

/** SentencePiece token types as llama.cpp reads them. */
const NORMAL = 1, CONTROL = 3;

interface Pieces { readonly tokens: string[]; readonly scores: number[]; readonly types: number[] }

const arrayOf = (file: ReturnType<typeof readGguf>, key: string): ReadonlyArray<number | bigint | boolean | string> => {
  const v = file.metadata.get(key);
  if (v?.kind !== "array") throw new Error(`the English LM has no ${key}`);
  return v.value;
};

/**
 * The English models' SentencePiece vocabulary (8,192 pieces with byte fallback: no English text is
 * unknown), then `<|im_start|>` and `<|im_end|>` as control tokens, then padding pieces up to
 * `vocabSize`. Padding pieces are one private-use character (U+E000..) and a number: the tokenizer
 * never produces them for text without private-use characters, so they only widen the output layer,
 * which is what a large vocabulary costs; random weights may still generate them.
 */
export const instructPieces = (vocabSize: number): Pieces => {
  const lm = readGguf(englishModels().lmPath);
  const tokens = arrayOf(lm, "tokenizer.ggml.tokens").map(String);
  const scores = arrayOf(lm, "tokenizer.ggml.scores").map(Number);
  const types = arrayOf(lm, "tokenizer.ggml.token_type").map(Number);
  tokens.push("<|im_start|>", "<|im_end|>");
  scores.push(0, 0);
  types.push(CONTROL, CONTROL);
  if (vocabSize < tokens.length) throw new Error(`an instruction model needs at least ${tokens.length} tokens, not ${vocabSize}`);
  for (let i = tokens.length; i < vocabSize; i++) { tokens.push(`\uE000${i}`); scores.push(-1e9); types.push(NORMAL); }
  return { tokens, scores, types };
};

/**
 * Writes a llama GGUF with seeded random weights that carries a real chat template (ChatML) and a
 * real tokenizer, so identity.ts takes it for an instruction-following model and English text
 * tokenizes into ordinary pieces. BOS is `<s>` and is prepended; `<|im_end|>` ends a turn (EOT).
 */
export const writeInstructLlama = (path: string, shape: RandomLlamaShape): void => {
  const p = instructPieces(shape.vocabSize);
  const imEnd = p.tokens.indexOf("<|im_end|>");
  const meta = new Map<string, GgufValue>([
    ...llamaShapeMetadata(shape, `sophont-instruct-random-v${shape.vocabSize}-d${shape.dim}-l${shape.layers}`),
    ["tokenizer.ggml.model", gv.str("llama")],
    ["tokenizer.ggml.tokens", gv.strs(p.tokens)],
    ["tokenizer.ggml.scores", gv.f32s(p.scores)],
    ["tokenizer.ggml.token_type", gv.i32s(p.types)],
    ["tokenizer.ggml.unknown_token_id", gv.u32(0)],
    ["tokenizer.ggml.bos_token_id", gv.u32(1)],
    ["tokenizer.ggml.eos_token_id", gv.u32(2)],
    ["tokenizer.ggml.eot_token_id", gv.u32(imEnd)],
    ["tokenizer.ggml.add_bos_token", gv.bool(true)],
    ["tokenizer.ggml.add_eos_token", gv.bool(false)],
    ["tokenizer.ggml.add_space_prefix", gv.bool(true)],
    ["tokenizer.chat_template", gv.str(CHATML_TEMPLATE)],
    ["sophont.instruct.kind", gv.str("random-weights-chatml")],
  ]);
  writeGgufStreamed(path, meta, randomLlamaTensors(shape));
};
