import { describe, expect, it } from "vitest";
import { GGML_TYPE_ID, gib, loraParameters, planLines, planMemory, tensorBytes, withinDeadline, type Device, type ModelShape, type PlanSettings, type TensorShape } from "../../../actors/muscle/plan.ts";

// gpt-oss-120b as its published config describes it (36 layers, hidden 2880, 64 query heads of 64,
// 8 KV heads, 128 experts of width 2880, top-4, vocabulary 201088, sliding window 128 on every
// other layer, untied embeddings), laid out as llama.cpp names its GGUF tensors: experts in MXFP4,
// attention, router, embeddings and output in BF16 (as the checkpoint keeps them), norms and sinks F32.
const T = GGML_TYPE_ID;
const gptOss120b = (): ModelShape => {
  const d = 2880, heads = 64, kv = 8, hd = 64, experts = 128, ffn = 2880, vocab = 201088, layers = 36;
  const tensors: TensorShape[] = [{ name: "token_embd.weight", shape: [d, vocab], type: T.BF16! }];
  for (let i = 0; i < layers; i++) {
    const b = (n: string) => `blk.${i}.${n}`;
    tensors.push(
      { name: b("attn_norm.weight"), shape: [d], type: T.F32! },
      { name: b("attn_q.weight"), shape: [d, heads * hd], type: T.BF16! },
      { name: b("attn_q.bias"), shape: [heads * hd], type: T.F32! },
      { name: b("attn_k.weight"), shape: [d, kv * hd], type: T.BF16! },
      { name: b("attn_k.bias"), shape: [kv * hd], type: T.F32! },
      { name: b("attn_v.weight"), shape: [d, kv * hd], type: T.BF16! },
      { name: b("attn_v.bias"), shape: [kv * hd], type: T.F32! },
      { name: b("attn_output.weight"), shape: [heads * hd, d], type: T.BF16! },
      { name: b("attn_output.bias"), shape: [d], type: T.F32! },
      { name: b("attn_sinks.weight"), shape: [heads], type: T.F32! },
      { name: b("post_attention_norm.weight"), shape: [d], type: T.F32! },
      { name: b("ffn_gate_inp.weight"), shape: [d, experts], type: T.BF16! },
      { name: b("ffn_gate_inp.bias"), shape: [experts], type: T.F32! },
      { name: b("ffn_gate_exps.weight"), shape: [d, ffn, experts], type: T.MXFP4! },
      { name: b("ffn_up_exps.weight"), shape: [d, ffn, experts], type: T.MXFP4! },
      { name: b("ffn_down_exps.weight"), shape: [ffn, d, experts], type: T.MXFP4! },
      { name: b("ffn_gate_exps.bias"), shape: [ffn, experts], type: T.F32! },
      { name: b("ffn_up_exps.bias"), shape: [ffn, experts], type: T.F32! },
      { name: b("ffn_down_exps.bias"), shape: [d, experts], type: T.F32! },
    );
  }
  tensors.push({ name: "output_norm.weight", shape: [d], type: T.F32! }, { name: "output.weight", shape: [d, vocab], type: T.BF16! });
  return { architecture: "gpt-oss", layers, hidden: d, heads, kvHeads: kv, headDim: hd, vocab, ffn, experts, expertsUsed: 4, slidingWindow: 128, contextLength: 131072, tensors };
};

// nvidia-smi's memory.total for an H100 80GB HBM3.
const h100: Device = { kind: "cuda", name: "H100 80GB HBM3", memoryBytes: 81559 * 2 ** 20, flops: 200e12 };
const attention = ["attn_q", "attn_k", "attn_v", "attn_output"];
const settings: PlanSettings = { seqLen: 2048, batch: 1, rank: 16, targets: attention, checkpointing: true, dequantize: "expert" };

describe("the memory plan", () => {
  it("sizes quantized tensors by their ggml blocks: MXFP4 is 17 bytes per 32 weights, Q4_K 144 per 256", () => {
    expect(tensorBytes({ name: "x", shape: [2880, 2880, 128], type: T.MXFP4! })).toBe((2880 * 2880 * 128 / 32) * 17);
    expect(tensorBytes({ name: "x", shape: [4096, 4096], type: T.Q4_K! })).toBe((4096 * 4096 / 256) * 144);
    expect(tensorBytes({ name: "x", shape: [64, 64], type: T.Q8_0! })).toBe(128 * 34);
    expect(() => tensorBytes({ name: "odd", shape: [32], type: 99 })).toThrow(/odd: ggml type 99/);
  });

  it("counts gpt-oss-120b at 116.8B parameters, 5.1B active, and its base at about 60.6 GiB", () => {
    const p = planMemory(gptOss120b(), settings, h100, 24);
    expect(p.model.parameters / 1e9).toBeCloseTo(116.8, 0);
    expect(p.model.activeParameters / 1e9).toBeGreaterThan(4.5);
    expect(p.model.activeParameters / 1e9).toBeLessThan(5.5);
    expect(p.model.baseBytes / 2 ** 30).toBeGreaterThan(59);
    expect(p.model.baseBytes / 2 ** 30).toBeLessThan(62);
    expect(p.model.types.MXFP4! / 2 ** 30).toBeCloseTo(56.7, 0);
  });

  it("fits gpt-oss-120b on one 80 GB H100 at seq 2048, batch 1, LoRA r=16 on attention, checkpointing per layer, expert-wise dequantization", () => {
    const p = planMemory(gptOss120b(), settings, h100, 24);
    console.log(planLines(p).join("\n"));
    expect(p.lora.tensors).toBe(36 * 4);
    expect(p.lora.parameters).toBe(36 * 16 * ((2880 + 4096) * 2 + (2880 + 512) * 2));
    expect(p.fits).toBe(true);
    expect(p.headroomBytes).toBeGreaterThan(2 ** 30);
  });

  it("refuses the same job without checkpointing, at seq 8192, or with whole-tensor dequantization on a 40 GB card, each with the numbers", () => {
    const off = planMemory(gptOss120b(), { ...settings, checkpointing: false }, h100, 24);
    expect(off.fits).toBe(false);
    expect(off.reasons.join()).toMatch(/needs .* GiB but the cuda device H100 80GB HBM3 has 79.65 GiB/);
    expect(planMemory(gptOss120b(), { ...settings, seqLen: 8192 }, h100, 24).fits).toBe(false);
    expect(planMemory(gptOss120b(), { ...settings, dequantize: "tensor", seqLen: 4096 }, h100, 24).fits).toBe(false);
    const a100: Device = { ...h100, name: "A100 40GB", memoryBytes: 40 * 2 ** 30 };
    expect(planMemory(gptOss120b(), settings, a100, 24).fits).toBe(false);
  });

  it("counts LoRA on stacked expert tensors per expert, and says when no tensor matches the targets", () => {
    const m = gptOss120b();
    expect(loraParameters(m, ["ffn_down_exps"], 8).parameters).toBe(36 * 8 * (2880 + 2880) * 128);
    const p = planMemory(m, { ...settings, targets: ["wq"] }, h100, 24);
    expect(p.fits).toBe(false);
    expect(p.reasons.join()).toMatch(/no tensor of the model matches the LoRA targets wq/);
  });

  it("refuses a 120B job on a CPU by time even where the memory would hold it", () => {
    const cpu: Device = { kind: "cpu", name: "x86_64 (16 cores)", memoryBytes: 256 * 2 ** 30, flops: 0.2e12 };
    const p = withinDeadline(planMemory(gptOss120b(), settings, cpu, 24), 60 * 60_000);
    expect(p.headroomBytes).toBeGreaterThan(0);
    expect(p.fits).toBe(false);
    expect(p.reasons.join()).toMatch(/would take about .* h on x86_64 .* past the deadline of 1.0 h/);
    expect(withinDeadline(planMemory(gptOss120b(), settings, h100, 24), 60 * 60_000).fits).toBe(true);
  });

  it("writes GiB with two decimals", () => expect(gib(1.5 * 2 ** 30)).toBe("1.50 GiB"));
});
