import { type GgufTensor, type GgufValue, gv } from "../gguf/types.ts";
import { writeGguf } from "../gguf/writer.ts";
import type { Vocabulary } from "./vocab.ts";

/** Head and FFN widths of the pass-through block: tiny, since their weights are all zero. */
export const PASS_THROUGH_WIDTH = 8;

export interface TinyLlamaSpec {
  readonly name: string;
  readonly vocab: Vocabulary;
  /** Hidden size (llama.embedding_length). */
  readonly dim: number;
  /** token_embd.weight, row-major [vocab][dim] (ggml shape [dim, vocab]). */
  readonly tokenEmbedding: Float32Array;
  /** output.weight, row-major [vocab][dim]; omitted means tied to the token embedding. */
  readonly output?: Float32Array;
  /** Storage of output.weight (default F32). */
  readonly outputType?: "F32" | "F16";
  /** output_norm.weight, one value per hidden unit. */
  readonly outputNorm: Float32Array;
  readonly contextLength: number;
  /** llama.pooling_type: 1 = mean (embedding models); omitted for language models. */
  readonly pooling?: "mean";
  readonly rmsEpsilon: number;
  readonly extraMetadata?: ReadonlyArray<readonly [string, GgufValue]>;
  /**
   * SentencePiece vocabulary for llama.cpp's "llama" tokenizer (scores and token types from the
   * SentencePiece model, byte-fallback pieces <0x00>..<0xFF>); omitted: the WordPiece ("bert") one.
   */
  readonly sentencePiece?: { readonly scores: readonly number[] };
}

const zeros = (n: number) => new Float32Array(n);
const ones = (n: number) => new Float32Array(n).fill(1);

/**
 * Metadata of a llama-architecture GGUF with one pass-through block. llama.cpp needs the keys
 * named in issue 3; head_count and feed_forward_length missing would abort the process.
 */
export const tinyLlamaMetadata = (spec: TinyLlamaSpec): Map<string, GgufValue> => {
  const w = PASS_THROUGH_WIDTH;
  const { vocab } = spec;
  const m = new Map<string, GgufValue>([
    ["general.architecture", gv.str("llama")],
    ["general.name", gv.str(spec.name)],
    ["general.alignment", gv.u32(32)],
    ["general.file_type", gv.u32(1)],
    ["llama.context_length", gv.u32(spec.contextLength)],
    ["llama.embedding_length", gv.u32(spec.dim)],
    ["llama.block_count", gv.u32(1)],
    ["llama.feed_forward_length", gv.u32(w)],
    ["llama.attention.head_count", gv.u32(1)],
    ["llama.attention.head_count_kv", gv.u32(1)],
    ["llama.attention.key_length", gv.u32(w)],
    ["llama.attention.value_length", gv.u32(w)],
    ["llama.rope.dimension_count", gv.u32(w)],
    ["llama.attention.layer_norm_rms_epsilon", gv.f32(spec.rmsEpsilon)],
    ["llama.vocab_size", gv.u32(vocab.tokens.length)],
  ]);
  if (spec.pooling === "mean") m.set("llama.pooling_type", gv.u32(1));
  const spm = spec.sentencePiece;
  m.set("tokenizer.ggml.model", gv.str(spm ? "llama" : "bert"));
  m.set("tokenizer.ggml.tokens", gv.strs(vocab.tokens));
  m.set("tokenizer.ggml.token_type", gv.i32s(vocab.types));
  m.set("tokenizer.ggml.scores", gv.f32s(spm ? spm.scores : vocab.tokens.map(() => 0)));
  if (!spm) m.set("tokenizer.ggml.padding_token_id", gv.u32(vocab.pad));
  m.set("tokenizer.ggml.unknown_token_id", gv.u32(vocab.unk));
  m.set("tokenizer.ggml.bos_token_id", gv.u32(vocab.bos));
  m.set("tokenizer.ggml.eos_token_id", gv.u32(vocab.eos));
  if (!spm) m.set("tokenizer.ggml.seperator_token_id", gv.u32(vocab.eos));
  else m.set("tokenizer.ggml.add_space_prefix", gv.bool(true));
  // llama.cpp ends generation on end-of-generation ids; [SEP] must be one or a grammar that has
  // closed its JSON leaves the sampler no token at all.
  m.set("tokenizer.ggml.eot_token_id", gv.u32(vocab.eos));
  // The LM is trained on [CLS]-framed sentences, so it wants BOS; the embedder would only pool it.
  m.set("tokenizer.ggml.add_bos_token", gv.bool(spec.pooling === undefined));
  m.set("tokenizer.ggml.add_eos_token", gv.bool(false));
  for (const [k, v] of spec.extraMetadata ?? []) m.set(k, v);
  return m;
};

/** Tensors with standard llama.cpp names; attention and FFN weights are zero so the residual passes through. */
export const tinyLlamaTensors = (spec: TinyLlamaSpec): GgufTensor[] => {
  const d = spec.dim;
  const w = PASS_THROUGH_WIDTH;
  const v = spec.vocab.tokens.length;
  const t: GgufTensor[] = [
    { name: "token_embd.weight", shape: [d, v], type: "F16", data: spec.tokenEmbedding },
    { name: "blk.0.attn_norm.weight", shape: [d], type: "F32", data: ones(d) },
    { name: "blk.0.attn_q.weight", shape: [d, w], type: "F32", data: zeros(d * w) },
    { name: "blk.0.attn_k.weight", shape: [d, w], type: "F32", data: zeros(d * w) },
    { name: "blk.0.attn_v.weight", shape: [d, w], type: "F32", data: zeros(d * w) },
    { name: "blk.0.attn_output.weight", shape: [w, d], type: "F32", data: zeros(d * w) },
    { name: "blk.0.ffn_norm.weight", shape: [d], type: "F32", data: ones(d) },
    { name: "blk.0.ffn_gate.weight", shape: [d, w], type: "F32", data: zeros(d * w) },
    { name: "blk.0.ffn_up.weight", shape: [d, w], type: "F32", data: zeros(d * w) },
    { name: "blk.0.ffn_down.weight", shape: [w, d], type: "F32", data: zeros(d * w) },
    { name: "output_norm.weight", shape: [d], type: "F32", data: spec.outputNorm },
  ];
  if (spec.output !== undefined) t.push({ name: "output.weight", shape: [d, v], type: spec.outputType ?? "F32", data: spec.output });
  return t;
};

/** Writes the model; returns nothing, the path is the caller's. */
export const writeTinyLlama = (path: string, spec: TinyLlamaSpec): void =>
  writeGguf(path, tinyLlamaMetadata(spec), tinyLlamaTensors(spec));
