// Training from the GGUF the Soul serves (issue 14 pt 2): for each architecture (llama, Mixtral, qwen2,
// qwen3, qwen3moe, gpt-oss) and quant type (F32 F16 BF16 Q8_0 Q4_K Q5_K Q6_K MXFP4), a tiny random model
// written by the trainer's GGUF writer is loaded by node-llama-cpp, and the trainer's forward (the base kept
// packed, dequantized per matmul) gives the same log-probs; an adapter trained on a quantized model of each
// architecture loads in node-llama-cpp and moves its log-probs as it moves the trainer's.
//
// Tolerance, derived from what llama.cpp's CPU back-end does:
//   - dequantization is exact: a model whose only quantized tensor is token_embd (llama.cpp's get_rows
//     dequantizes the rows, nothing else is rounded) matches to float noise (< 1e-4);
//   - a matmul with a weight of type T first rounds its activations to T's vec_dot_type (F16 -> F16,
//     BF16 -> BF16, Q8_0 and MXFP4 -> Q8_0 blocks of 32, the K-quants -> Q8_K blocks of 256). The trainer's
//     forward can reproduce that rounding (`cpu_rounding`); E is how far it moves our own log-probs. The
//     exact forward (what training uses) is within 1.25 E + 2e-3 of llama.cpp: its whole deviation is that
//     rounding (measured 0.9-1.1 E). With the rounding reproduced the mean deviation must fall below E;
//     it often falls to float noise, but a rounding is a step function: where float-order noise flips one
//     upstream, the flip cascades (measured 0-0.63 E), so a tighter bound would test luck, not the code.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { getLlama, LlamaLogLevel, type Llama } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonLines, llamaLogprobs, maxAbsDiff, meanAbsDiff, minus, trainer, trainerScript, type Logprobs } from "../../support/trainer.ts";

const VOCAB = 288;
const ARCHS = ["llama", "mixtral", "qwen2", "qwen3", "qwen3moe", "gpt-oss"] as const;
const QUANTS = ["F32", "F16", "BF16", "Q8_0", "Q4_K", "Q5_K", "Q6_K", "MXFP4"] as const;
const MOE = new Set<string>(["mixtral", "qwen3moe", "gpt-oss"]);
// gpt-oss's sliding window is 4 tokens in the tiny models: the longer probe crosses it
const PROBE: number[][] = [
  [1, 5, 6, 250, 7, 9, 100, 200, 30, 40, 41, 42],
  [4, 250, 17],
];
const SFT: number[][] = Array.from({ length: 6 }, (_, i) => [1, ...Array.from({ length: 10 }, (_, j) => 260 + ((i + j) % 12))]);

interface TorchSide {
  readonly exact: Logprobs;
  readonly rounded: Logprobs;
  readonly base_bytes: number;
  readonly file_bytes: number;
}

const fmt = (x: number): string => x.toExponential(1);

describe("trainer forward from GGUF, per architecture and quant type, against llama.cpp", () => {
  let dir = "";
  let llama: Llama;
  const rows: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "sophont-gguf-arch-"));
    await trainerScript("matrix.py", ["models", dir, JSON.stringify(PROBE)]);
    llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
  }, 600_000);

  afterAll(async () => {
    console.info(["arch     quant  max|Δ| exact  E (rounding)  max|Δ| rounded  mean|Δ| rounded / E  base bytes", ...rows].join("\n"));
    await llama?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("dequantizes every quant type as llama.cpp does", { timeout: 120_000 }, async () => {
    const report: string[] = [];
    for (const quant of QUANTS) {
      const file = path.join(dir, `embd-${quant}.gguf`);
      const mine = JSON.parse(readFileSync(file.replace(/\.gguf$/, ".json"), "utf8")) as Pick<TorchSide, "exact">;
      const model = await llama.loadModel({ modelPath: file });
      try {
        const d = maxAbsDiff(mine.exact, await llamaLogprobs(model, PROBE, VOCAB));
        report.push(`${quant} ${fmt(d)}`);
        expect(d, `token_embd in ${quant}`).toBeLessThan(1e-4);
      } finally {
        await model.dispose();
      }
    }
    console.info(`token_embd alone in each type, max |Δ log p|: ${report.join(", ")}`);
  });

  it.each(ARCHS)("%s: log-probs match llama.cpp's for every quant type", { timeout: 300_000 }, async (arch) => {
    for (const quant of QUANTS) {
      const file = path.join(dir, `${arch}-${quant}.gguf`);
      const mine = JSON.parse(readFileSync(file.replace(/\.gguf$/, ".json"), "utf8")) as TorchSide;
      const model = await llama.loadModel({ modelPath: file });
      let theirs: Logprobs;
      try {
        theirs = await llamaLogprobs(model, PROBE, VOCAB);
      } finally {
        await model.dispose();
      }
      const e = maxAbsDiff(mine.exact, mine.rounded);
      const eMean = meanAbsDiff(mine.exact, mine.rounded);
      const exact = maxAbsDiff(mine.exact, theirs);
      const rounded = maxAbsDiff(mine.rounded, theirs);
      const roundedMean = meanAbsDiff(mine.rounded, theirs);
      rows.push(`${arch.padEnd(8)} ${quant.padEnd(6)} ${fmt(exact).padStart(12)}  ${fmt(e).padStart(12)}  ${fmt(rounded).padStart(14)}  ${(eMean > 0 ? (roundedMean / eMean).toFixed(3) : "-").padStart(20)}  ${mine.base_bytes}`);
      expect(exact, `${arch} ${quant}: exact forward`).toBeLessThanOrEqual(1.25 * e + 2e-3);
      expect(roundedMean, `${arch} ${quant}: rounding reproduced`).toBeLessThanOrEqual(eMean + 1e-5);
      if (quant !== "F32" && quant !== "F16" && quant !== "BF16") expect(mine.base_bytes).toBeLessThan(mine.file_bytes);
    }
  });

  it("trains an adapter on a quantized model of each architecture that llama.cpp loads and applies as the trainer does", { timeout: 900_000 }, async () => {
    const pairs: [string, string][] = [];
    for (const arch of ARCHS) {
      const base = path.join(dir, `${arch}-${arch === "gpt-oss" ? "MXFP4" : "Q4_K"}.gguf`);
      const job = path.join(dir, `job-${arch}`);
      mkdirSync(job, { recursive: true });
      writeFileSync(path.join(job, "sft.jsonl"), SFT.map((tokens) => JSON.stringify({ tokens })).join("\n") + "\n");
      const ffn = MOE.has(arch) ? ["ffn_gate_inp"] : ["ffn_gate", "ffn_up", "ffn_down"];
      writeFileSync(
        path.join(job, "recipe.json"),
        JSON.stringify({ base_model: base, rank: 4, alpha: 8, lr: 0.01, sft_steps: 12, dpo_steps: 0, batch: 3, seed: 1, job_id: arch, target_modules: ["attn_q", "attn_k", "attn_v", "attn_output", ...ffn, "output"] }),
      );
      const lines = jsonLines(await trainer(["train", job]));
      expect(lines.at(-1)?.["event"], `${arch}: ${JSON.stringify(lines.at(-1))}`).toBe("done");
      pairs.push([base, path.join(job, "out", "adapter.gguf")]);
    }
    const torchSide = JSON.parse(await trainerScript("matrix.py", ["lora", JSON.stringify(pairs), JSON.stringify([...PROBE, SFT[0]!])])) as Array<{ tensors: string[]; base: TorchSide; tuned: TorchSide }>;
    const report: string[] = ["arch      tensors  max|effect|  max|Δeffect| exact  max|Δeffect| rounded"];
    for (const [i, arch] of ARCHS.entries()) {
      const [base, adapter] = pairs[i]!;
      const mine = torchSide[i]!;
      const model = await llama.loadModel({ modelPath: base });
      try {
        const before = await llamaLogprobs(model, [...PROBE, SFT[0]!], VOCAB);
        const after = await llamaLogprobs(model, [...PROBE, SFT[0]!], VOCAB, adapter);
        const theirs = minus(after, before);
        const exact = minus(mine.tuned.exact, mine.base.exact);
        const rounded = minus(mine.tuned.rounded, mine.base.rounded);
        const size = maxAbsDiff(exact, minus(exact, exact));
        const dExact = maxAbsDiff(exact, theirs);
        const dRounded = maxAbsDiff(rounded, theirs);
        report.push(`${arch.padEnd(9)} ${String(mine.tensors.length).padStart(7)}  ${fmt(size).padStart(11)}  ${fmt(dExact).padStart(19)}  ${fmt(dRounded).padStart(21)}`);
        expect(size, `${arch}: the adapter changes the log-probs`).toBeGreaterThan(0.1);
        expect(dRounded, `${arch}: llama.cpp applies the adapter as the trainer does`).toBeLessThanOrEqual(0.1 * size);
      } finally {
        await model.dispose();
      }
    }
    console.info(report.join("\n"));
  });
});
