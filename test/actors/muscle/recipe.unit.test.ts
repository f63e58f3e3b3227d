import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { plannedSteps, trainerRecipe } from "../../../actors/muscle/datasets.ts";
import { tinyRecipe } from "../../../actors/muscle/request.ts";
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
