import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { defaultRecipe, requestTraining } from "../../../actors/muscle/request.ts";
import { MuscleWorker } from "../../../actors/muscle/worker.ts";
import { loadProbe } from "../../training/probe.ts";
import { EvaluationWorker } from "../../../actors/soul/evaluation.worker.ts";
import type { DomainEvent } from "../../../events/catalogue.ts";
import type { EvaluationBounds, Recipe } from "../../../events/training.ts";
import { ledgers } from "../../../projections/ledgers.projection.ts";
import { lineage } from "../../../projections/lineage.projection.ts";
import { projectAt } from "../../../projections/runner.ts";
import { LocalProvider } from "../../local/provider.ts";
import { ObjectContentStore } from "../../nats/content-store.ts";
import { evaluationModel } from "../../training/evaluation-model.ts";
import { trainingMaterials } from "../../training/materials.ts";
import type { OpenModels } from "../models.ts";
import type { Runtime } from "../runtime.ts";

/** Whether this machine can run the trainer payload (PyTorch for the system Python). */
export const torchAvailable = (python = "/usr/bin/python3"): boolean => spawnSync(python, ["-c", "import torch"], { stdio: "ignore" }).status === 0;

export const TORCH_HINT = "PyTorch is missing, so the demo skips training. Install it: Debian/Ubuntu `sudo apt-get install python3-torch`, macOS `brew install pytorch` (or `pip install torch`).";

type Verdict = Extract<DomainEvent, { type: "AdapterPromoted" | "AdapterRolledBack" | "TrainingFailed" }>;

/**
 * The Muscle on the `local` provider (the same trainer payload and job protocol, run as a local
 * process) and the Soul's evaluation, for the demo: one job, then its verdict.
 */
export const demoTrainer = async (rt: Runtime, models: OpenModels, home: string, bounds: EvaluationBounds, say: (s: string) => void) => {
  const content = new ObjectContentStore(rt.nc);
  const muscle = new MuscleWorker(rt.store, {
    materials: trainingMaterials(content, models.lm, models.lm.identity.path),
    scratchDir: join(home, "muscle"),
    providers: { local: new LocalProvider(join(home, "local-host")) },
    onEvent: (e) => e.type === "step" && e.attempt <= 1 && say(`    ${e.step}`),
  });
  // The gate a user's home gets (config.json's training.bounds), the general probe set included.
  const soul = new EvaluationWorker(rt.store, content, evaluationModel(models.lm, join(home, "adapters")), { bounds, probe: loadProbe(models.lm.identity.path) });
  await Promise.all([muscle.start(), soul.start()]);
  const train = async (jobId: string, recipe: Recipe): Promise<Verdict> => {
    const data = requestTraining(await projectAt(rt.store, ledgers, "now"), await projectAt(rt.store, lineage, "now"), {
      jobId, host: null, recipe, baseModelSha256: models.lm.identity.sha256, atSeq: await rt.store.lastSeq(), deadlineMs: 600_000, requestedBy: "demo",
    });
    await rt.store.append([{ event: { type: "TrainingRequested", data }, metadata: { id: `demo-request-${jobId}`, time: new Date().toISOString(), actor: "soul", causationId: null, correlationId: jobId } }]);
    for (;;) {
      for await (const e of rt.store.read({ types: new Set(["AdapterPromoted", "AdapterRolledBack", "TrainingFailed"]) })) {
        if ((e.data as { jobId: string }).jobId === jobId) return { type: e.type, data: e.data } as Verdict;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  return {
    train,
    /** A learning rate thousands of times too large: the adapter forgets everything and must be rolled back. */
    harmfulRecipe: { ...defaultRecipe, lr: 5 } as Recipe,
    stop: async () => {
      await muscle.stop();
      await soul.stop();
    },
  };
};
