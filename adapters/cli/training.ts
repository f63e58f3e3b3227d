// Composition of the training loop: the Muscle (providers: the hosts file's SSH hosts, and this
// machine) and the Soul's evaluation, both on the serving model.
import path from "node:path";
import { MuscleWorker, type MuscleOptions } from "../../actors/muscle/worker.ts";
import { restoreServing } from "../../actors/soul/serving.ts";
import { EvaluationWorker, type EvaluationOptions } from "../../actors/soul/evaluation.worker.ts";
import { LocalProvider } from "../local/provider.ts";
import type { OpenLanguageModel } from "../llm/model.ts";
import { ObjectContentStore } from "../nats/content-store.ts";
import { hostsFilePath } from "../ssh/hosts.ts";
import { StaticSshProvider } from "../ssh/provider.ts";
import { evaluationModel } from "../training/evaluation-model.ts";
import { trainingMaterials } from "../training/materials.ts";
import { loadProbe } from "../training/probe.ts";
import type { Runtime } from "./runtime.ts";

/** Loads the adapter the log says serves into `lm` (its files under `<home>/muscle/adapters`); returns its sha256. */
export const serveFromLog = (rt: Runtime, lm: OpenLanguageModel, home: string): Promise<string | null> =>
  restoreServing(rt.store, new ObjectContentStore(rt.nc), evaluationModel(lm, path.join(home, "muscle", "adapters")));

export interface TrainingActors {
  readonly muscle: MuscleWorker;
  readonly evaluation: EvaluationWorker;
  stop(): Promise<void>;
}

/** Starts the Muscle and the evaluation on this process, their files under `<home>/muscle`. */
export const startTraining = async (
  rt: Runtime, lm: OpenLanguageModel, home: string,
  opts: { readonly muscle?: Partial<MuscleOptions>; readonly evaluation?: EvaluationOptions } = {},
): Promise<TrainingActors> => {
  const content = new ObjectContentStore(rt.nc);
  const dir = path.join(home, "muscle");
  const muscle = new MuscleWorker(rt.store, {
    providers: { ssh: new StaticSshProvider(hostsFilePath(home)), local: new LocalProvider(path.join(dir, "local")) },
    materials: trainingMaterials(content, lm, lm.identity.path),
    scratchDir: path.join(dir, "scratch"),
    ...opts.muscle,
  });
  const evaluation = new EvaluationWorker(rt.store, content, evaluationModel(lm, path.join(dir, "adapters")), { probe: loadProbe(lm.identity.path), ...opts.evaluation });
  await evaluation.start();
  await muscle.start();
  return { muscle, evaluation, stop: async () => (await muscle.stop(), await evaluation.stop()) };
};
