import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { trainerRecipe } from "../../../actors/muscle/datasets.ts";
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
    const r = trainerRecipe(request(tinyRecipe), { sft: 1, anchor: 0, dpo: 0 }, []);
    expect(r.backend).toBe("tiny");
    expect(parsed(r)).toBe("tiny None");
  });

  it("selects transformers on the host's HF model folder, which the trainer's parser accepts", () => {
    const r = trainerRecipe(request({ ...tinyRecipe, backend: "hf", hfModel: "/models/llama-hf" }), { sft: 1, anchor: 0, dpo: 0 }, []);
    expect(r).toMatchObject({ backend: "hf", hf_model: "/models/llama-hf" });
    expect(parsed(r)).toBe("hf /models/llama-hf");
  });
});
