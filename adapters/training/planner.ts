// Binds the memory plan to this installation: the serving GGUF's tensor table, the hosts file's GPU
// memory, and this machine's own device for jobs without a host.
import { execFileSync } from "node:child_process";
import os from "node:os";
import { plannedSteps } from "../../actors/muscle/datasets.ts";
import type { TrainingRequest } from "../../actors/muscle/muscle.decider.ts";
import { ASSUMED_FLOPS, planMemory, withinDeadline, type Device, type MemoryPlan, type ModelShape, type PlanSettings } from "../../actors/muscle/plan.ts";
import type { Recipe } from "../../events/training.ts";
import { loadHosts } from "../ssh/hosts.ts";
import { modelShapeOf } from "./model-shape.ts";
import { loadGeneralReplay } from "./replay.ts";

/** This machine as a training device: a CUDA GPU when nvidia-smi answers, Apple's MPS on arm64 macOS, else the CPU. */
export const localDevice = (): Device => {
  try {
    const line = execFileSync("nvidia-smi", ["--query-gpu=name,memory.total", "--format=csv,noheader,nounits"], { stdio: ["ignore", "pipe", "ignore"], timeout: 5_000 }).toString().split("\n")[0] ?? "";
    const m = /^(.+),\s*(\d+)\s*$/.exec(line.trim());
    if (m) return { kind: "cuda", name: m[1]!, memoryBytes: Number(m[2]) * 2 ** 20, flops: ASSUMED_FLOPS.cuda };
  } catch {
    // no nvidia-smi: not a CUDA machine
  }
  // Apple silicon shares its memory with the GPU; about three quarters of it is what Metal lets one process have.
  if (process.platform === "darwin" && process.arch === "arm64") return { kind: "mps", name: "Apple silicon (MPS)", memoryBytes: os.totalmem() * 0.75, flops: ASSUMED_FLOPS.mps };
  return { kind: "cpu", name: `${os.cpus()[0]?.model.trim() ?? os.arch()} (${os.availableParallelism()} threads)`, memoryBytes: os.totalmem(), flops: ASSUMED_FLOPS.cpu };
};

/** The plan's settings from a recipe: rows as long as `seqLen` (default the context, at most 2048). */
export const planSettings = (recipe: Recipe, model: ModelShape): PlanSettings => ({
  seqLen: recipe.seqLen ?? Math.min(model.contextLength || 2048, 2048),
  batch: recipe.batch,
  rank: recipe.rank,
  targets: recipe.targetModules,
  checkpointing: true,
  dequantize: model.experts > 0 ? "expert" : "tensor",
});

/** A named host's GPU as the hosts file declares it (gpuMemoryGiB, else gpu.minMemoryGiB); undefined when it declares none. */
export const hostDevice = async (hostsFile: string, name: string): Promise<Device | undefined> => {
  const entry = (await loadHosts(hostsFile)).find((h) => h.name === name);
  const gib = entry?.gpuMemoryGiB ?? entry?.gpu.minMemoryGiB;
  if (!entry || gib === undefined) return undefined;
  return { kind: "cuda", name: `${entry.gpu.model ?? "GPU"} of ${name}`, memoryBytes: gib * 2 ** 30, flops: ASSUMED_FLOPS.cuda };
};

export interface PlannerOptions {
  readonly baseModelPath: string;
  readonly hostsFile: string;
  /** The device of jobs without a host (default: this machine's). */
  readonly local?: () => Device;
}

/** The Muscle's planner: undefined where nothing is known of the device (a CPU host that declares no memory). */
export const planner = (o: PlannerOptions): ((request: TrainingRequest, device?: Device) => Promise<MemoryPlan | undefined>) => {
  let shape: ModelShape | undefined;
  let general: number | undefined;
  return async (request, given) => {
    shape ??= modelShapeOf(o.baseModelPath);
    const device = given ?? (request.host === null ? (o.local ?? localDevice)() : await hostDevice(o.hostsFile, request.host));
    if (!device) return undefined;
    const l = request.ledger;
    general ??= loadGeneralReplay().texts.length;
    const planned = plannedSteps(request.recipe, { sft: l.sft.length, anchor: l.anchor.length, general, pref: Math.max(l.shadow.length, l.negatives?.length ?? 0) });
    const steps = planned.sft + planned.dpo;
    return withinDeadline(planMemory(shape, planSettings(request.recipe, shape), device, steps), request.deadlineMs);
  };
};
