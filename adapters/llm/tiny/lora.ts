import { type GgufTensor, type GgufValue, gv } from "../gguf/types.ts";
import { writeGguf } from "../gguf/writer.ts";

/**
 * One low-rank update ΔW = (alpha / rank) · B·A of a base weight. `a` is row-major [rank][inDim]
 * and `b` row-major [outDim][rank], i.e. PyTorch/peft's lora_A and lora_B as they are.
 */
export interface LoraUpdate {
  /** The base tensor's GGUF name, e.g. "output.weight" or "blk.0.attn_q.weight". */
  readonly target: string;
  readonly inDim: number;
  readonly outDim: number;
  readonly rank: number;
  readonly a: Float32Array;
  readonly b: Float32Array;
}

export interface LoraAdapterSpec {
  /** Must equal the base model's general.architecture, or llama.cpp refuses the adapter. */
  readonly architecture: string;
  readonly alpha: number;
  readonly name?: string;
  readonly updates: readonly LoraUpdate[];
}

/** GGUF tensors of a LoRA adapter in llama.cpp's layout: "<target>.lora_a" ne=[in, r], "<target>.lora_b" ne=[r, out]. */
export const loraTensors = (spec: LoraAdapterSpec): GgufTensor[] =>
  spec.updates.flatMap((u) => {
    if (u.a.length !== u.rank * u.inDim || u.b.length !== u.outDim * u.rank) {
      throw new Error(`LoRA ${u.target}: A must be ${u.rank}x${u.inDim}, B ${u.outDim}x${u.rank}`);
    }
    return [
      { name: `${u.target}.lora_a`, shape: [u.inDim, u.rank], type: "F32" as const, data: u.a },
      { name: `${u.target}.lora_b`, shape: [u.rank, u.outDim], type: "F32" as const, data: u.b },
    ];
  });

/** Writes a GGUF LoRA adapter that llama.cpp (and node-llama-cpp's `lora` option) loads. */
export const writeLoraAdapter = (path: string, spec: LoraAdapterSpec): void => {
  const meta = new Map<string, GgufValue>([
    ["general.architecture", gv.str(spec.architecture)],
    ["general.type", gv.str("adapter")],
    ["general.name", gv.str(spec.name ?? "sophont-lora")],
    ["general.alignment", gv.u32(32)],
    ["adapter.type", gv.str("lora")],
    ["adapter.lora.alpha", gv.f32(spec.alpha)],
  ]);
  writeGguf(path, meta, loraTensors(spec));
};

/**
 * A rank-1 adapter on the tiny LM's output matrix that raises log-odds of `boost` tokens after
 * any token by `amount` (the one-hot hidden state makes B·A·h = amount for every position).
 * Tests use it; the trainer writes real adapters with the same writer.
 */
export const boostTokensAdapter = (vocabSize: number, boost: readonly number[], amount: number): LoraAdapterSpec => {
  // After RMS norm and output_norm the hidden state is the one-hot e_t, so A = 1 gives A·h = 1.
  const a = new Float32Array(vocabSize).fill(1);
  const b = new Float32Array(vocabSize);
  for (const t of boost) b[t] = amount;
  return { architecture: "llama", alpha: 1, name: "boost-tokens", updates: [{ target: "output.weight", inDim: vocabSize, outDim: vocabSize, rank: 1, a, b }] };
};
