import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { packed, plannedSteps, trainerRecipe } from "../../../actors/muscle/datasets.ts";
import { defaultRecipe, tinyRecipe } from "../../../actors/muscle/request.ts";
import type { TrainingRequest } from "../../../actors/muscle/muscle.decider.ts";
import { trainerDir } from "../../../adapters/training/materials.ts";

const request = (recipe: TrainingRequest["recipe"]): TrainingRequest => ({
  jobId: "job-r", host: "gpu", baseModelSha256: "x", recipe, ledger: { atSeq: 0, sft: [], heldOut: [], anchor: [], shadow: [] }, mergeWith: [], deadlineMs: 1, requestedBy: "test",
});

// The trainer's own parser reads what the Muscle writes (adapters/trainer/sophont_trainer/data.py).
const parsed = (recipe: Record<string, unknown>): string =>
  execFileSync("/usr/bin/python3", ["-c", "import json,sys\nfrom pathlib import Path\nfrom sophont_trainer.data import parse_recipe\nr = parse_recipe(Path('/job'), json.loads(sys.argv[1]))\nprint(r.backend, r.hf_model)", JSON.stringify(recipe)], { env: { ...process.env, PYTHONPATH: trainerDir } }).toString().trim();

describe("recipe.backend reaches the trainer", () => {
  it("defaults to the tiny back-end", () => {
    const r = trainerRecipe(request(tinyRecipe), { sft: 1, anchor: 0, dpo: 0, negatives: 0, dpoEval: 0 }, []);
    expect(r.backend).toBe("tiny");
    expect(parsed(r)).toBe("tiny None");
  });

  it("selects transformers on the host's HF model folder, which the trainer's parser accepts", () => {
    const r = trainerRecipe(request({ ...tinyRecipe, backend: "hf", hfModel: "/models/llama-hf" }), { sft: 1, anchor: 0, dpo: 0, negatives: 0, dpoEval: 0 }, []);
    expect(r).toMatchObject({ backend: "hf", hf_model: "/models/llama-hf" });
    expect(parsed(r)).toBe("hf /models/llama-hf");
  });
});

describe("the default recipe builds on what serves", () => {
  const steps = (recipe: Record<string, unknown>, rows: { sft: number; anchor: number; dpo: number; negatives: number }): string =>
    execFileSync("/usr/bin/python3", ["-c", [
      "import json,sys", "from pathlib import Path", "from sophont_trainer.data import parse_recipe, resolve_steps, Job",
      "r = parse_recipe(Path('/job'), json.loads(sys.argv[1])); n = json.loads(sys.argv[2])",
      "j = Job(Path('/job'), r, sft=[0]*n['sft'], anchor=[0]*n['anchor'], dpo=[0]*n['dpo'], negatives=[0]*n['negatives'])",
      "print(*resolve_steps(j), r.serving_adapter, r.candidates.max_rank, r.candidates.methods)",
    ].join("\n"), JSON.stringify(recipe), JSON.stringify(rows)], { env: { ...process.env, PYTHONPATH: trainerDir } }).toString().trim();

  it("sends the serving adapter, the candidates and epochs, and plans the steps the trainer will take", () => {
    for (const rows of [{ sft: 30, anchor: 4, dpo: 0, negatives: 6 }, { sft: 500, anchor: 9, dpo: 12, negatives: 0 }, { sft: 7, anchor: 0, dpo: 0, negatives: 0 }]) {
      const r = trainerRecipe(request(tinyRecipe), { ...rows, dpoEval: 0 }, [], "serving.gguf");
      expect(r).toMatchObject({ serving_adapter: "serving.gguf", epochs: 2, max_steps: 96 });
      expect(r).not.toHaveProperty("sft_steps");
      const planned = plannedSteps(tinyRecipe, { sft: rows.sft, anchor: rows.anchor, pref: Math.max(rows.dpo, rows.negatives) });
      expect(steps(r, rows)).toBe(`${planned.sft} ${planned.dpo} /job/serving.gguf 16 ('stack', 'task-arithmetic', 'ties', 'dare')`);
    }
    expect(plannedSteps(tinyRecipe, { sft: 30, anchor: 4, pref: 6 })).toEqual({ sft: 20, dpo: 3 });
    expect(plannedSteps(tinyRecipe, { sft: 500, anchor: 9, pref: 12 })).toEqual({ sft: 96, dpo: 6 });
  });
});

describe("general-English replay reaches the trainer beside the anchor", () => {
  const steps = (recipe: Record<string, unknown>, rows: { sft: number; anchor: number; general: number }): string =>
    execFileSync("/usr/bin/python3", ["-c", [
      "import json,sys", "from pathlib import Path", "from sophont_trainer.data import parse_recipe, resolve_steps, Job",
      "r = parse_recipe(Path('/job'), json.loads(sys.argv[1])); n = json.loads(sys.argv[2])",
      "j = Job(Path('/job'), r, sft=[0]*n['sft'], anchor=[0]*n['anchor'], general=[0]*n['general'])",
      "print(resolve_steps(j)[0], r.general_replay_ratio)",
    ].join("\n"), JSON.stringify(recipe), JSON.stringify(rows)], { env: { ...process.env, PYTHONPATH: trainerDir } }).toString().trim();

  it("sends the ratio only with general rows, and the trainer counts the steps the plan does", () => {
    const replaying = { ...defaultRecipe, generalReplayRatio: 0.25 };
    const rows = { sft: 30, anchor: 4, dpo: 0, negatives: 0, dpoEval: 0 };
    const general = { sha256: "s", rows: 60, ratio: 0.25 };
    const r = trainerRecipe(request(replaying), rows, [], undefined, general);
    expect(r.general_replay_ratio).toBe(0.25);
    expect(trainerRecipe(request(replaying), rows, [], undefined, undefined)).not.toHaveProperty("general_replay_ratio");
    const planned = plannedSteps(replaying, { sft: 30, anchor: 4, general: 60, pref: 0 });
    expect(steps(r, { sft: 30, anchor: 4, general: 60 })).toBe(`${planned.sft} 0.25`);
    // the replayed shares come on top of the SFT rows: fewer SFT rows a batch, more steps for two passes
    expect(planned.sft).toBeGreaterThan(plannedSteps(replaying, { sft: 30, anchor: 4, general: 0, pref: 0 }).sft);
  });

  it("packs short texts into rows about as long as the job's SFT rows", () => {
    const texts = Array.from({ length: 10 }, (_, i) => ({ tokens: [1, 10 + i, 20 + i] }));
    const rows = packed(texts, 7, 8);
    // two texts (6 tokens) are short of 7, a third would pass the longest row (8): no text is cut
    expect(rows.map((r) => r.tokens.length)).toEqual([6, 6, 6, 6, 6]);
    expect(rows.flatMap((r) => r.tokens)).toEqual(texts.flatMap((t) => t.tokens));
    expect(packed(texts, 4, 512).map((r) => r.tokens.length)).toEqual([6, 6, 6, 6, 6]);
  });
});
