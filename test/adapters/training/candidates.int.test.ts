// The trainer on the project's real tiny GGUF, checked against llama.cpp (node-llama-cpp): a job trains
// on top of the serving adapter, its stack candidate is what llama.cpp computes with both adapters in
// one context, and the preference losses move held-out pairs of real text (Debian's descriptions).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Effect } from "effect";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { LlamaModel } from "node-llama-cpp";
import { openLanguageModel, type OpenLanguageModel } from "../../../adapters/llm/model.ts";
import { planScoring, scoreTextsPublic } from "../../../adapters/llm/perplexity.ts";
import { llamaRuntime } from "../../../adapters/llm/runtime.ts";
import { trainerDir } from "../../../adapters/training/materials.ts";
import { tinyBase } from "../../actors/muscle/support.ts";
import { debianDescriptionsAvailable, sectionDescriptions } from "../../support/debian-corpus.ts";
import { corpusLines } from "../llm/support.ts";

let lm: OpenLanguageModel;
let raw: LlamaModel;
let dir: string;
const base = () => tinyBase().path;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "sophont-candidates-"));
  lm = await Effect.runPromise(openLanguageModel({ modelPath: base(), threads: 1, probe: false, contextSize: 512 }));
  raw = await (await llamaRuntime()).loadModel({ modelPath: base(), gpuLayers: 0 });
}, 120_000);

afterAll(async () => {
  await raw?.dispose();
  await lm?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const tokens = (text: string) => Effect.runPromise(lm.tokenize(text));
const jsonl = (rows: readonly unknown[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";

/** Writes a job directory and runs the real trainer on it; returns result.json. */
const train = (name: string, recipe: Record<string, unknown>, files: Record<string, readonly unknown[]>) => {
  const job = path.join(dir, name);
  mkdirSync(job, { recursive: true });
  for (const [f, rows] of Object.entries(files)) writeFileSync(path.join(job, f), jsonl(rows));
  writeFileSync(path.join(job, "recipe.json"), JSON.stringify({ base_model: base(), rank: 4, alpha: 8, lr: 0.02, batch: 4, seed: 1, target_modules: ["output"], job_id: name, ...recipe }));
  execFileSync("/usr/bin/python3", ["-m", "sophont_trainer", "train", job], { env: { ...process.env, PYTHONPATH: trainerDir }, stdio: ["ignore", "ignore", "pipe"], timeout: 600_000 });
  return { job, result: JSON.parse(readFileSync(path.join(job, "out", "result.json"), "utf8")) as { before: Record<string, any>; after: Record<string, any>; artifacts: Array<Record<string, any>> } };
};

/** Pooled mean NLL of texts in a node-llama-cpp context carrying these adapters (each at scale 1). */
const meanNll = async (texts: readonly string[], adapters: readonly string[]) => {
  const ctx = await raw.createContext({ contextSize: 512, sequences: 1, threads: 1, ...(adapters.length ? { lora: { adapters: adapters.map((filePath) => ({ filePath, scale: 1 })) } } : {}) });
  try {
    const bos = raw.tokens.shouldPrependBosToken ? raw.tokens.bos : null;
    const results = await scoreTextsPublic(texts, (t) => raw.tokenize(t), ctx.getSequence(), planScoring(ctx.contextSize, bos, {}), false);
    const n = results.reduce((s, r) => s + r.tokenCount, 0);
    return results.reduce((s, r) => s + r.meanNll * r.tokenCount, 0) / n;
  } finally {
    await ctx.dispose();
  }
};

describe("a job trains on top of what serves (real tiny GGUF, llama.cpp)", () => {
  it("starts at the served model's loss, and its stack candidate is both adapters in one llama.cpp context", async () => {
    const sailing = corpusLines("train", "sailing");
    const firstRows = await Promise.all(sailing.slice(0, 24).map(async (t) => ({ tokens: await tokens(t) })));
    const first = train("first", { sft_steps: 16, dpo_steps: 0 }, { "sft.jsonl": firstRows });
    const served = path.join(first.job, "out", "adapter.gguf");
    const nextTexts = sailing.slice(24, 48);
    const next = train("next", { sft_steps: 16, dpo_steps: 0, serving_adapter: served, candidates: { max_rank: 16 } }, { "sft.jsonl": await Promise.all(nextTexts.map(async (t) => ({ tokens: await tokens(t) }))) });
    // The trainer's loss before its first step is llama.cpp's NLL of the same rows under the served adapter.
    const servedNll = await meanNll(nextTexts, [served]);
    const baseNll = await meanNll(nextTexts, []);
    console.log(`next job's rows: base NLL ${baseNll.toFixed(4)}, served (llama.cpp) ${servedNll.toFixed(4)}, trainer's loss before its first step ${next.result.before.sft_loss.toFixed(4)}, after ${next.result.after.sft_loss.toFixed(4)}`);
    expect(next.result.before.sft_loss).toBeCloseTo(servedNll, 2);
    expect(servedNll).toBeLessThan(baseNll - 0.01);
    const candidates = next.result.artifacts.filter((a) => a.kind === "candidate");
    console.log(`candidates: ${candidates.map((c) => `${c.method}${c.params.lambda !== undefined ? `(${c.params.lambda})` : ""} rank ${c.rank} error ${c.reconstruction_error.toFixed(3)}`).join(", ")}`);
    expect(candidates.map((c) => c.method)).toEqual(["stack", "task-arithmetic", "task-arithmetic", "ties", "dare"]);
    const heldOut = corpusLines("heldout", "sailing").slice(0, 12);
    const stack = await meanNll(heldOut, [candidates[0]!.path]);
    const both = await meanNll(heldOut, [served, path.join(next.job, "out", "micro-adapter.gguf")]);
    console.log(`held-out sailing NLL: served alone ${(await meanNll(heldOut, [served])).toFixed(4)}, served + micro in one context ${both.toFixed(4)}, stack file ${stack.toFixed(4)}`);
    expect(Math.abs(stack - both)).toBeLessThan(1e-4);
  }, 600_000);
});

describe.skipIf(!debianDescriptionsAvailable())("preferences on held-out pairs of Debian's descriptions", () => {
  // Prompt: a description's first words; chosen: how it goes on; rejected: how another section's description goes on.
  const pairs = async (n: number) => {
    const own = sectionDescriptions("sound", n, 30);
    const other = sectionDescriptions("kernel", n, 30);
    const words = (t: string, a: number, b: number) => t.split(" ").slice(a, b).join(" ");
    return Promise.all(own.slice(0, Math.min(own.length, other.length)).map(async (d, i) => {
      const prompt = await tokens(words(d.text, 0, 5));
      const chosen = (await tokens(" " + words(d.text, 5, 15))).slice(1);
      const rejected = (await tokens(" " + words(other[i]!.text, 5, 15))).slice(1);
      return { prompt_tokens: prompt, chosen_tokens: chosen, rejected_tokens: rejected };
    }));
  };

  it("DPO widens the margin; unpaired negatives lower the rejected outputs; both measured on pairs never trained on", async () => {
    const all = await pairs(30);
    expect(all.length).toBeGreaterThanOrEqual(24);
    const [trainPairs, heldOut] = [all.slice(0, 16), all.slice(16, 24)];
    const negatives = trainPairs.map(({ prompt_tokens, rejected_tokens }) => ({ prompt_tokens, rejected_tokens }));
    // Three passes over 16 rows: 12 steps of 4 (each step scores four sequences a pair: policy and reference).
    const recipe = { sft_steps: 0, epochs: 3, dpo_lr: 0.05 };
    const runs = {
      dpo: train("dpo", recipe, { "dpo.jsonl": trainPairs, "dpo_eval.jsonl": heldOut }).result,
      kto: train("kto", recipe, { "negatives.jsonl": negatives, "dpo_eval.jsonl": heldOut }).result,
      both: train("both", recipe, { "dpo.jsonl": trainPairs.slice(0, 8), "negatives.jsonl": negatives.slice(8), "dpo_eval.jsonl": heldOut }).result,
    };
    for (const [name, r] of Object.entries(runs)) {
      const [b, a] = [r.before.heldout_pairs, r.after.heldout_pairs];
      console.log(`${name}: held-out (${a.pairs} pairs) chosen log p ${b.chosen_logp.toFixed(2)} -> ${a.chosen_logp.toFixed(2)}, rejected ${b.rejected_logp.toFixed(2)} -> ${a.rejected_logp.toFixed(2)}, margin ${b.margin.toFixed(2)} -> ${a.margin.toFixed(2)}, accuracy ${b.accuracy.toFixed(2)} -> ${a.accuracy.toFixed(2)}`);
    }
    const moved = (r: (typeof runs)["dpo"], key: "margin" | "rejected_logp" | "chosen_logp") => r.after.heldout_pairs[key] - r.before.heldout_pairs[key];
    // DPO alone widens the margin, but on the tiny model it raises both outputs (the domain's tokens
    // go up): measured chosen -224.31 -> -219.97, rejected -218.65 -> -215.46, margin -5.66 -> -4.51.
    expect(moved(runs.dpo, "margin")).toBeGreaterThan(0);
    // The unpaired negatives are what push the rejected outputs down (the chosen fall too, less).
    expect(moved(runs.kto, "rejected_logp")).toBeLessThan(0);
    expect(moved(runs.kto, "margin")).toBeGreaterThan(0);
    // Both together, as the default recipe trains a Shadow Ledger with and without corrections.
    expect(moved(runs.both, "rejected_logp")).toBeLessThan(0);
    expect(moved(runs.both, "margin")).toBeGreaterThan(0);
  }, 900_000);
});
