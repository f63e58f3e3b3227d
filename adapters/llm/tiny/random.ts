import { type GgufValue, gv, toHalf } from "../gguf/types.ts";
import { type GgufTensorSource, writeGgufStreamed } from "../gguf/writer.ts";

/** The shape of a random-weight llama, for speed measurements where the numbers need not mean anything. */
export interface RandomLlamaShape {
  readonly vocabSize: number;
  readonly dim: number;
  readonly layers: number;
  readonly heads: number;
  /** Key/value heads (grouped-query attention); default `heads`. */
  readonly kvHeads?: number;
  readonly feedForward: number;
  readonly contextLength: number;
  /** Output projection shares the token embedding (as Qwen2.5-0.5B does); default true. */
  readonly tiedOutput?: boolean;
  readonly seed: number;
}

/** Real model shapes the perplexity benchmark measures (random weights, F16). */
export const REAL_SHAPES = {
  /** Small enough that a 256-token vocabulary is not dwarfed by anything. */
  small256: { vocabSize: 256, dim: 256, layers: 4, heads: 4, feedForward: 1024, contextLength: 1024, seed: 11 },
  /** JackFram/llama-160m. */
  llama160m: { vocabSize: 32_000, dim: 768, layers: 12, heads: 12, feedForward: 3072, contextLength: 1024, tiedOutput: false, seed: 12 },
  /** Qwen2.5-0.5B (without its q/k/v biases: the llama architecture has none). */
  qwen05b: { vocabSize: 151_936, dim: 896, layers: 24, heads: 14, kvHeads: 2, feedForward: 4864, contextLength: 1024, tiedOutput: true, seed: 13 },
} as const satisfies Record<string, RandomLlamaShape>;

/**
 * Seeded F16 values uniform in (-scale, scale): a table of 4096 halves indexed by xorshift32,
 * which fills a gigabyte in seconds where a per-value float-to-half conversion takes minutes.
 */
const randomHalves = (count: number, scale: number, seed: number): Uint8Array => {
  let x = (seed * 2654435761) >>> 0 || 1;
  const next = () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
  const table = new Uint16Array(4096);
  for (let i = 0; i < table.length; i++) table[i] = toHalf(((next() / 2 ** 32) * 2 - 1) * scale);
  const out = new Uint16Array(count);
  for (let i = 0; i < count; i++) out[i] = table[next() >>> 20]!;
  return new Uint8Array(out.buffer);
};

const ones = (n: number): Uint8Array => new Uint8Array(new Float32Array(n).fill(1).buffer);

/** The architecture keys of a llama of this shape (everything but the tokenizer). */
export const llamaShapeMetadata = (s: RandomLlamaShape, name: string): Array<[string, GgufValue]> => {
  const kvHeads = s.kvHeads ?? s.heads, headDim = s.dim / s.heads;
  return [
    ["general.architecture", gv.str("llama")],
    ["general.name", gv.str(name)],
    ["general.alignment", gv.u32(32)],
    ["llama.context_length", gv.u32(s.contextLength)],
    ["llama.embedding_length", gv.u32(s.dim)],
    ["llama.block_count", gv.u32(s.layers)],
    ["llama.feed_forward_length", gv.u32(s.feedForward)],
    ["llama.attention.head_count", gv.u32(s.heads)],
    ["llama.attention.head_count_kv", gv.u32(kvHeads)],
    ["llama.rope.dimension_count", gv.u32(headDim)],
    ["llama.attention.layer_norm_rms_epsilon", gv.f32(1e-5)],
  ];
};

/** The tensors of a random-weight llama of this shape (seeded F16, norms one), produced as they are written. */
export const randomLlamaTensors = (s: RandomLlamaShape): GgufTensorSource[] => {
  const kvHeads = s.kvHeads ?? s.heads, headDim = s.dim / s.heads, kvDim = kvHeads * headDim;
  const d = s.dim, f = s.feedForward;
  let seed = s.seed * 1000;
  const f16 = (name: string, cols: number, rows: number, scale: number): GgufTensorSource => {
    const mySeed = ++seed;
    return { name, shape: [cols, rows], type: "F16", bytes: () => randomHalves(cols * rows, scale, mySeed) };
  };
  const norm = (name: string): GgufTensorSource => ({ name, shape: [d], type: "F32", bytes: () => ones(d) });
  const t: GgufTensorSource[] = [f16("token_embd.weight", d, s.vocabSize, 1)];
  for (let l = 0; l < s.layers; l++) {
    const b = `blk.${l}`, k = 1 / Math.sqrt(d);
    t.push(
      norm(`${b}.attn_norm.weight`),
      f16(`${b}.attn_q.weight`, d, d, k), f16(`${b}.attn_k.weight`, d, kvDim, k),
      f16(`${b}.attn_v.weight`, d, kvDim, k), f16(`${b}.attn_output.weight`, d, d, k),
      norm(`${b}.ffn_norm.weight`),
      f16(`${b}.ffn_gate.weight`, d, f, k), f16(`${b}.ffn_up.weight`, d, f, k),
      f16(`${b}.ffn_down.weight`, f, d, 1 / Math.sqrt(f)),
    );
  }
  t.push(norm("output_norm.weight"));
  if (s.tiedOutput === false) t.push(f16("output.weight", d, s.vocabSize, 1 / Math.sqrt(d)));
  return t;
};

/**
 * Writes a llama GGUF with seeded random F16 weights and a placeholder word vocabulary (callers
 * feed token ids directly), streaming one tensor at a time so a 1 GB file needs little memory.
 */
export const writeRandomLlama = (path: string, s: RandomLlamaShape): void => {
  const tokens = Array.from({ length: s.vocabSize }, (_, i) => (i < 4 ? ["[PAD]", "[UNK]", "[CLS]", "[SEP]"][i]! : `\u2581w${i}`));
  const meta = new Map<string, GgufValue>([
    ...llamaShapeMetadata(s, `random-llama-v${s.vocabSize}-d${s.dim}-l${s.layers}`),
    ["tokenizer.ggml.model", gv.str("bert")],
    ["tokenizer.ggml.tokens", gv.strs(tokens)],
    ["tokenizer.ggml.token_type", gv.i32s(tokens.map((_, i) => (i < 4 ? 3 : 1)))],
    ["tokenizer.ggml.unknown_token_id", gv.u32(1)],
    ["tokenizer.ggml.bos_token_id", gv.u32(2)],
    ["tokenizer.ggml.eos_token_id", gv.u32(3)],
    ["tokenizer.ggml.eot_token_id", gv.u32(3)],
    ["tokenizer.ggml.padding_token_id", gv.u32(0)],
    ["tokenizer.ggml.add_bos_token", gv.bool(true)],
  ]);
  writeGgufStreamed(path, meta, randomLlamaTensors(s));
};
