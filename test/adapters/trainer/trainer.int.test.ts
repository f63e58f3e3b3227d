// The trainer payload (adapters/trainer, Python + PyTorch) against the real runtime: its Python unit
// tests pass, its PyTorch llama forward agrees with llama.cpp on a GGUF it wrote, and the LoRA
// adapters it trains and TIES-merges load in node-llama-cpp and move the model towards the data.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { getLlama, LlamaLogLevel, type Llama, type LlamaModel } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileAsync, jsonLines, llamaLogprobs as llamaLogprobsOf, maxAbsDiff, PYTHON, pythonEnv, ROOT, TRAINER, trainer, type Lines } from "../../support/trainer.ts";

const VOCAB = 288;

interface Artifact {
  readonly kind: "micro" | "candidate" | "merged";
  readonly path: string;
  readonly sha256: string;
  readonly reconstruction_error?: number;
}

const artifactsOf = (lines: Lines): Artifact[] =>
  lines.filter((l) => l["event"] === "artifact").map((l) => l as unknown as Artifact);

/** Next-token log-probs of the trainer's PyTorch forward: [sequence][position][token]. */
const torchLogprobs = async (model: string, seqs: number[][], lora?: string): Promise<number[][][]> => {
  const out = await trainer(["logprobs", model, "--tokens", JSON.stringify(seqs), ...(lora ? ["--lora", lora] : [])]);
  return (JSON.parse(out) as { logprobs: number[][][] }).logprobs;
};

/** The same from llama.cpp (F32 KV cache, flash attention off: see test/support/trainer.ts). */
const llamaLogprobs = (model: LlamaModel, seqs: number[][], lora?: string): Promise<number[][][]> => llamaLogprobsOf(model, seqs, VOCAB, lora);

/** Mean log-prob llama.cpp gives the training sequences' own next tokens. */
const meanTargetLogprob = (logprobs: number[][][], seqs: number[][]): number => {
  let sum = 0;
  let n = 0;
  seqs.forEach((seq, i) => {
    for (let t = 1; t < seq.length; t++) {
      sum += logprobs[i]![t - 1]![seq[t]!]!;
      n++;
    }
  });
  return sum / n;
};

/** llama.cpp aborts the whole process on some malformed models (a missing key, a bad vocabulary):
 * load in a child first. The child is a script file, not `node -e`: node-llama-cpp forks a test
 * process with the parent's execArgv, which would re-run an `-e` script. */
const loadsInChildProcess = (modelPath: string, dir: string): Promise<{ code: number | null; output: string }> =>
  new Promise((resolve) => {
    const entry = pathToFileURL(path.join(ROOT, "node_modules/node-llama-cpp/dist/index.js")).href;
    const script = path.join(dir, "load-check.mjs");
    writeFileSync(
      script,
      `import { getLlama } from ${JSON.stringify(entry)};
const llama = await getLlama({ gpu: false, build: "never" });
const model = await llama.loadModel({ modelPath: process.argv[2] });
console.log("loaded", model.tokens.bos);
await model.dispose();
`,
    );
    const child = spawn(process.execPath, [script, modelPath], { cwd: ROOT });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("close", (code) => resolve({ code, output }));
  });

// SFT rows follow a fixed cyclic pattern, so "towards the training data" is measurable.
const SFT_SEQS: number[][] = Array.from({ length: 6 }, (_, i) => [1, ...Array.from({ length: 10 }, (_, j) => 260 + ((i + j) % 12))]);
const PROBE_SEQS: number[][] = [
  [1, 5, 6, 7, 100, 200, 9, 9, 9, 30],
  [4, 250, 17],
  [1, 287, 0, 3, 44, 45, 46],
];

const writeJob = (dir: string, recipe: Record<string, unknown>): void => {
  mkdirSync(dir, { recursive: true });
  const jsonl = (rows: unknown[]): string => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";
  writeFileSync(path.join(dir, "sft.jsonl"), jsonl(SFT_SEQS.map((tokens) => ({ tokens }))));
  writeFileSync(
    path.join(dir, "anchor.jsonl"),
    jsonl([{ tokens: [1, 20, 30, 40, 50, 60] }, { tokens: [1, 70, 80, 90, 100, 110, 120] }]),
  );
  writeFileSync(
    path.join(dir, "dpo.jsonl"),
    jsonl(
      [0, 1, 2, 3].map((i) => ({
        prompt_tokens: [1, 270 + i],
        chosen_tokens: [200 + i, 201 + i],
        rejected_tokens: [230 + i, 231 + i],
      })),
    ),
  );
  writeFileSync(
    path.join(dir, "recipe.json"),
    JSON.stringify({
      rank: 4,
      alpha: 8,
      lr: 0.02,
      // DPO at the SFT rate would undo the SFT on data this unrelated; a gentler rate keeps both
      dpo_lr: 0.002,
      sft_steps: 30,
      dpo_steps: 10,
      batch: 4,
      anchor_ratio: 0.25,
      dpo_beta: 0.1,
      target_modules: ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down", "output"],
      ties: { k: 20, lambda: 1 },
      ...recipe,
    }),
  );
};

describe("trainer payload", () => {
  let tmp = "";
  let basePath = "";
  let llama: Llama;
  let model: LlamaModel;

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), "sophont-trainer-"));
    basePath = path.join(tmp, "base.gguf");
    await trainer(["tiny-model", basePath, "--vocab", String(VOCAB), "--embd", "32", "--layers", "2", "--heads", "4", "--kv-heads", "2", "--ff", "64", "--seed", "5"]);
    const child = await loadsInChildProcess(basePath, tmp);
    if (child.code !== 0) throw new Error(`llama.cpp cannot load the tiny model:\n${child.output}`);
    llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
    model = await llama.loadModel({ modelPath: basePath });
  });

  afterAll(async () => {
    await model?.dispose();
    await llama?.dispose();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("passes its Python unit tests", { timeout: 300_000 }, async () => {
    const { stderr } = await execFileAsync(PYTHON, ["-m", "unittest", "discover", "-s", path.join(TRAINER, "tests")], {
      cwd: ROOT,
      env: pythonEnv,
      maxBuffer: 16 * 1024 * 1024,
    });
    // unittest reports on stderr; a failure makes execFile reject with the report
    expect(stderr).toMatch(/\nOK\s*$/);
  });

  it("computes the same next-token log-probs as llama.cpp", { timeout: 120_000 }, async () => {
    const [mine, theirs] = [await torchLogprobs(basePath, PROBE_SEQS), await llamaLogprobs(model, PROBE_SEQS)];
    const diff = maxAbsDiff(mine, theirs);
    console.info(`max |log p torch - log p llama.cpp| over ${PROBE_SEQS.length} sequences x ${VOCAB} tokens: ${diff.toExponential(2)}`);
    expect(diff).toBeLessThan(1e-3);

    // the other layout: output tied to token_embd, plain multi-head attention, one layer
    const tiedPath = path.join(tmp, "tied.gguf");
    await trainer(["tiny-model", tiedPath, "--vocab", String(VOCAB), "--embd", "16", "--layers", "1", "--heads", "2", "--kv-heads", "2", "--ff", "48", "--seed", "9", "--tied"]);
    const tiedModel = await llama.loadModel({ modelPath: tiedPath });
    try {
      const tiedDiff = maxAbsDiff(await torchLogprobs(tiedPath, PROBE_SEQS), await llamaLogprobs(tiedModel, PROBE_SEQS));
      console.info(`tied output, no GQA: max |log p torch - log p llama.cpp| = ${tiedDiff.toExponential(2)}`);
      expect(tiedDiff).toBeLessThan(1e-3);
    } finally {
      await tiedModel.dispose();
    }
  });

  it("trains a LoRA that llama.cpp loads and that moves towards the training data, then TIES-merges", { timeout: 300_000 }, async () => {
    const job1 = path.join(tmp, "job1");
    writeJob(job1, { base_model: basePath, seed: 1, job_id: "night-1" });
    const lines1 = jsonLines(await trainer(["train", job1]));
    expect(lines1[0]?.["event"]).toBe("started");
    expect(lines1.at(-1)?.["event"]).toBe("done");
    // the first night: the micro-adapter, its task-arithmetic scalings as candidates, then the adapter served
    const kinds1 = artifactsOf(lines1).map((a) => a.kind);
    expect(kinds1[0]).toBe("micro");
    expect(kinds1.at(-1)).toBe("merged");
    expect(kinds1.filter((k) => k === "candidate").length).toBeGreaterThan(0);
    const merged1 = artifactsOf(lines1).find((a) => a.kind === "merged");

    const base = await llamaLogprobs(model, SFT_SEQS);
    const tuned = await llamaLogprobs(model, SFT_SEQS, merged1!.path);
    const before = meanTargetLogprob(base, SFT_SEQS);
    const after = meanTargetLogprob(tuned, SFT_SEQS);
    console.info(`llama.cpp mean log p of the SFT targets: ${before.toFixed(3)} -> ${after.toFixed(3)} with the adapter`);
    expect(maxAbsDiff(base, tuned)).toBeGreaterThan(0.1);
    expect(after).toBeGreaterThan(before + 2);

    // llama.cpp applies the adapter exactly as the trainer's forward does
    const loraDiff = maxAbsDiff(await torchLogprobs(basePath, PROBE_SEQS, merged1!.path), await llamaLogprobs(model, PROBE_SEQS, merged1!.path));
    console.info(`with the adapter: max |log p torch - log p llama.cpp| = ${loraDiff.toExponential(2)}`);
    expect(loraDiff).toBeLessThan(1e-3);

    // the next night: a new micro-adapter TIES-merged with the first one
    const job2 = path.join(tmp, "job2");
    writeJob(job2, { base_model: basePath, seed: 2, job_id: "night-2", merge_with: [merged1!.path] });
    const lines2 = jsonLines(await trainer(["train", job2]));
    expect(lines2.at(-1)?.["event"]).toBe("done");
    const merged2 = artifactsOf(lines2).find((a) => a.kind === "merged")!;
    console.info(`TIES merge reconstruction error (relative Frobenius, rank 4): ${merged2.reconstruction_error?.toFixed(3)}`);
    expect(merged2.reconstruction_error).toBeGreaterThan(0);
    expect(merged2.reconstruction_error).toBeLessThan(1);
    const mergedTarget = meanTargetLogprob(await llamaLogprobs(model, SFT_SEQS, merged2.path), SFT_SEQS);
    console.info(`llama.cpp mean log p of the SFT targets with the merged adapter: ${mergedTarget.toFixed(3)}`);
    expect(mergedTarget).toBeGreaterThan(before + 1);
    const mergedDiff = maxAbsDiff(await torchLogprobs(basePath, PROBE_SEQS, merged2.path), await llamaLogprobs(model, PROBE_SEQS, merged2.path));
    expect(mergedDiff).toBeLessThan(1e-3);
  });

  it("reports invalid input as a failed line and a non-zero exit", { timeout: 60_000 }, async () => {
    const job = path.join(tmp, "bad");
    writeJob(job, { base_model: basePath, seed: 0, rank: -1 });
    const err = await trainer(["train", job]).then(
      () => null,
      (e: unknown) => e as { code: number; stdout: string },
    );
    expect(err?.code).toBe(2);
    const last = jsonLines(err?.stdout ?? "").at(-1);
    expect(last?.["event"]).toBe("failed");
    expect(String(last?.["error"])).toMatch(/rank/);
  });
});
