// A GGUF's header as the memory plan's ModelShape: only the header and tensor table are read, so a
// 60 GB model costs a few megabytes of I/O.
import type { ModelShape } from "../../actors/muscle/plan.ts";
import { metaValue, readGguf } from "../llm/gguf/reader.ts";

const num = (v: unknown): number | undefined => (typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : undefined);

/** Reads the GGUF at `file` into the plan's description of the model. */
export const modelShapeOf = (file: string): ModelShape => {
  const g = readGguf(file);
  const arch = String(metaValue(g, "general.architecture") ?? "llama");
  const key = (k: string) => num(metaValue(g, `${arch}.${k}`));
  const hidden = key("embedding_length") ?? 0;
  const heads = key("attention.head_count") ?? 1;
  const embd = g.tensors.find((t) => t.name === "token_embd.weight");
  const tokens = g.metadata.get("tokenizer.ggml.tokens");
  return {
    architecture: arch,
    layers: key("block_count") ?? 0,
    hidden,
    heads,
    kvHeads: key("attention.head_count_kv") ?? heads,
    headDim: key("attention.key_length") ?? Math.floor(hidden / heads),
    vocab: embd?.shape[1] ?? (tokens?.kind === "array" ? tokens.value.length : 0),
    ffn: key("expert_feed_forward_length") ?? key("feed_forward_length") ?? 0,
    experts: key("expert_count") ?? 0,
    expertsUsed: key("expert_used_count") ?? 0,
    slidingWindow: key("attention.sliding_window") ?? 0,
    contextLength: key("context_length") ?? 0,
    tensors: g.tensors.map((t) => ({ name: t.name, shape: t.shape, type: t.type })),
  };
};
