import { type GgufTensor, type GgufValue, gv } from "../gguf/types.ts";
import { writeGguf } from "../gguf/writer.ts";
import { prng } from "./corpusgen/generate.ts";

/** The shape of a random-weight llama, for speed measurements where the numbers need not mean anything. */
export interface RandomLlamaShape {
  readonly vocabSize: number;
  readonly dim: number;
  readonly layers: number;
  readonly heads: number;
  readonly feedForward: number;
  readonly contextLength: number;
  readonly seed: number;
}

const uniform = (n: number, scale: number, rand: () => number) => {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * scale;
  return a;
};

/**
 * Writes a llama GGUF with seeded random weights (F16 matrices, tied output embedding) and a
 * placeholder word vocabulary; callers feed token ids directly.
 */
export const writeRandomLlama = (path: string, s: RandomLlamaShape): void => {
  const rand = prng(s.seed);
  const tokens = Array.from({ length: s.vocabSize }, (_, i) => (i < 4 ? ["[PAD]", "[UNK]", "[CLS]", "[SEP]"][i]! : `\u2581w${i}`));
  const meta = new Map<string, GgufValue>([
    ["general.architecture", gv.str("llama")],
    ["general.name", gv.str(`random-llama-v${s.vocabSize}`)],
    ["general.alignment", gv.u32(32)],
    ["llama.context_length", gv.u32(s.contextLength)],
    ["llama.embedding_length", gv.u32(s.dim)],
    ["llama.block_count", gv.u32(s.layers)],
    ["llama.feed_forward_length", gv.u32(s.feedForward)],
    ["llama.attention.head_count", gv.u32(s.heads)],
    ["llama.attention.head_count_kv", gv.u32(s.heads)],
    ["llama.rope.dimension_count", gv.u32(s.dim / s.heads)],
    ["llama.attention.layer_norm_rms_epsilon", gv.f32(1e-5)],
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
  const d = s.dim, f = s.feedForward, k = 1 / Math.sqrt(d);
  const t: GgufTensor[] = [{ name: "token_embd.weight", shape: [d, s.vocabSize], type: "F16", data: uniform(d * s.vocabSize, 1, rand) }];
  for (let l = 0; l < s.layers; l++) {
    const b = `blk.${l}`;
    t.push(
      { name: `${b}.attn_norm.weight`, shape: [d], type: "F32", data: new Float32Array(d).fill(1) },
      ...["attn_q", "attn_k", "attn_v", "attn_output"].map((n) => ({ name: `${b}.${n}.weight`, shape: [d, d], type: "F16" as const, data: uniform(d * d, k, rand) })),
      { name: `${b}.ffn_norm.weight`, shape: [d], type: "F32", data: new Float32Array(d).fill(1) },
      { name: `${b}.ffn_gate.weight`, shape: [d, f], type: "F16", data: uniform(d * f, k, rand) },
      { name: `${b}.ffn_up.weight`, shape: [d, f], type: "F16", data: uniform(d * f, k, rand) },
      { name: `${b}.ffn_down.weight`, shape: [f, d], type: "F16", data: uniform(d * f, 1 / Math.sqrt(f), rand) },
    );
  }
  t.push({ name: "output_norm.weight", shape: [d], type: "F32", data: new Float32Array(d).fill(1) });
  writeGguf(path, meta, t);
};
