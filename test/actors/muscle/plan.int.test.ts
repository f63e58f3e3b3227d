// The memory plan in a job: planned from the serving GGUF's real tensor table, refused before any
// host is provisioned when the host's declared GPU memory cannot hold it.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestTraining, tinyRecipe } from "../../../actors/muscle/request.ts";
import type { MuscleWorker } from "../../../actors/muscle/worker.ts";
import type { EventData } from "../../../events/catalogue.ts";
import { StaticSshProvider } from "../../../adapters/ssh/provider.ts";
import { modelShapeOf } from "../../../adapters/training/model-shape.ts";
import { planner } from "../../../adapters/training/planner.ts";
import { planMemory } from "../../../actors/muscle/plan.ts";
import { ledgers } from "../../../projections/ledgers.projection.ts";
import { lineage } from "../../../projections/lineage.projection.ts";
import { projectAt } from "../../../projections/runner.ts";
import { startSshd, type Sshd } from "../../support/sshd.ts";
import { jobEvents, muscle, seedLedgers, startWorld, waitFor, type World } from "./support.ts";
import { statSync } from "node:fs";

let w: World;
let sshd: Sshd;
let worker: MuscleWorker;

beforeAll(async () => {
  [w, sshd] = await Promise.all([startWorld(), startSshd()]);
  await seedLedgers(w);
  const hostsFile = path.join(w.scratch, "hosts.json");
  const common = { host: sshd.host, port: sshd.port, user: sshd.user, keyPath: sshd.privateKeyPath, hostKeyFingerprint: sshd.hostKeyFingerprint, workDir: `sophont-plan-${process.pid}` };
  writeFileSync(hostsFile, JSON.stringify({ hosts: [{ name: "small-gpu", ...common, gpu: { kind: "none" }, gpuMemoryGiB: 0.01 }] }));
  worker = muscle(w, { providers: { ssh: new StaticSshProvider(hostsFile) }, planner: planner({ baseModelPath: w.lmPath, hostsFile }) });
  await worker.start();
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  await sshd?.stop();
  await w?.close();
});

describe("the memory plan in a job", () => {
  it("sizes the tiny GGUF's base as the sum of its tensors, within its file size", () => {
    const shape = modelShapeOf(w.lmPath);
    const plan = planMemory(shape, { seqLen: 128, batch: 1, rank: 4, targets: ["output"], checkpointing: true, dequantize: "tensor" }, { kind: "cpu", name: "test", memoryBytes: 2 ** 30, flops: 1e11 }, 1);
    const size = statSync(w.lmPath).size;
    expect(plan.model.baseBytes).toBeLessThanOrEqual(size);
    expect(plan.model.baseBytes).toBeGreaterThan(size * 0.5);
    expect(plan.lora.tensors).toBe(1);
  });

  it("refuses a job whose host's GPU memory cannot hold it before provisioning, with the numbers in the events", async () => {
    const data = requestTraining(await projectAt(w.store, ledgers, "now"), await projectAt(w.store, lineage, "now"), {
      jobId: "job-too-big", host: "small-gpu", recipe: { ...tinyRecipe, batch: 64, seqLen: 512 }, baseModelSha256: w.lm.identity.sha256, atSeq: await w.store.lastSeq(), deadlineMs: 120_000, requestedBy: "test",
    });
    await w.store.append([{ event: { type: "TrainingRequested", data }, metadata: { id: "request-job-too-big", time: new Date().toISOString(), actor: "soul", causationId: null, correlationId: "job-too-big" } }]);
    const events = await waitFor(async () => {
      const e = await jobEvents(w, "job-too-big");
      return e.some((x) => x.type === "TrainingFailed") ? e : undefined;
    }, 60_000, "the refusal");
    expect(events.map((e) => e.type)).not.toContain("HostProvisioned");
    const planned = events.find((e) => e.type === "TrainingPlanned")!.data as EventData<"TrainingPlanned">;
    expect(planned).toMatchObject({ fits: false, settings: { seqLen: 512, batch: 64 } });
    expect(planned.device.memoryBytes).toBe(0.01 * 2 ** 30);
    expect(planned.totalBytes).toBeGreaterThan(planned.device.memoryBytes);
    const failed = events.find((e) => e.type === "TrainingFailed")!.data as EventData<"TrainingFailed">;
    expect(failed).toMatchObject({ kind: "plan", stage: "provisioning" });
    expect(failed.error).toMatch(/memory plan refuses the job .* on GPU of small-gpu with 10.2 MiB/);
  }, 90_000);
});
