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
import { planner } from "../training/planner.ts";
import { CloudGpuProvider } from "../cloud/provider.ts";
import { cloudDevice, readCloudFile } from "../cloud/config.ts";
import type { EventStore } from "../../events/store.ts";
import { loadProbe } from "../training/probe.ts";
import type { Runtime } from "./runtime.ts";
import { Egress } from "../egress/egress.ts";
import { defaultAirlock, type AirlockPolicy } from "../egress/policy.ts";

/** `<home>/cloud.json`: a GPU cloud to rent from per job (`--host cloud`); the API key stays in the variable it names. */
const cloudProvider = (home: string, store: EventStore): CloudGpuProvider | undefined => {
  const o = readCloudFile(home);
  if (!o) return undefined;
  const spentToday = async () => {
    const day = new Date().toISOString().slice(0, 10);
    let spent = 0;
    for await (const e of store.read({ types: new Set(["InstanceTerminated"]) })) if (e.type === "InstanceTerminated" && new Date(e.storedAt).toISOString().startsWith(day)) spent += e.data.cost;
    return spent;
  };
  const spentOnJob = async (jobId: string) => {
    let spent = 0;
    for await (const e of store.read({ types: new Set(["InstanceTerminated"]) })) if (e.type === "InstanceTerminated" && e.data.jobId === jobId) spent += e.data.cost;
    return spent;
  };
  return new CloudGpuProvider({ ...o, spentToday, spentOnJob });
};

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
  opts: { readonly muscle?: Partial<MuscleOptions>; readonly evaluation?: EvaluationOptions; readonly airlock?: AirlockPolicy;
    /** The events' clock of the evaluation (a test clock); the Muscle keeps the wall clock: its deadline timer runs on it from the request's storage time. */
    readonly clock?: () => Date } = {},
): Promise<TrainingActors> => {
  const content = new ObjectContentStore(rt.nc);
  const dir = path.join(home, "muscle");
  const muscle = new MuscleWorker(rt.store, {
    providers: {
      ssh: new StaticSshProvider(hostsFilePath(home)), local: new LocalProvider(path.join(dir, "local")),
      ...(((c) => (c ? { cloud: c } : {}))(cloudProvider(home, rt.store))),
    },
    materials: trainingMaterials(content, lm, lm.identity.path),
    scratchDir: path.join(dir, "scratch"),
    airlock: new Egress(rt.store, opts.airlock ?? defaultAirlock, { actor: "muscle" }),
    planner: ((plan, cloud) => (request: Parameters<typeof plan>[0]) => plan(request, request.host === "cloud" && cloud ? cloudDevice(cloud) : undefined))(
      planner({ baseModelPath: lm.identity.path, hostsFile: hostsFilePath(home) }), readCloudFile(home),
    ),
    ...opts.muscle,
  });
  const evaluation = new EvaluationWorker(rt.store, content, evaluationModel(lm, path.join(dir, "adapters")), { probe: loadProbe(lm.identity.path), ...(opts.clock ? { clock: opts.clock } : {}), ...opts.evaluation });
  await evaluation.start();
  await muscle.start();
  return { muscle, evaluation, stop: async () => (await muscle.stop(), await evaluation.stop()) };
};
