// A GPU rented per job from a stand-in of a cloud API whose instances are real sshd processes:
// capacity refusals tried past, the host key pinned on first contact, terminated after the job
// (a terminate that fails once is retried), a Muscle killed between create and the first job
// resumes on the same instance, strays are terminated on start, a cancel while the GPU boots
// terminates it, and no GPU at all falls back here.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestTraining, fixedSteps, tinyRecipe } from "../../../actors/muscle/request.ts";
import type { MuscleWorker } from "../../../actors/muscle/worker.ts";
import type { EventData } from "../../../events/catalogue.ts";
import { CloudGpuProvider, type CloudOptions } from "../../../adapters/cloud/provider.ts";
import { LocalProvider } from "../../../adapters/local/provider.ts";
import { ledgers } from "../../../projections/ledgers.projection.ts";
import { lineage } from "../../../projections/lineage.projection.ts";
import { projectAt } from "../../../projections/runner.ts";
import type { GpuCloudStandIn } from "../../support/gpu-cloud-stand-in.ts";
import type { Sshd } from "../../support/sshd.ts";
import { collect } from "../../support/events.ts";
import { jobEvents, muscle, startCloudWorld, stopCloudWorld, waitFor, type World } from "./support.ts";

let w: World;
let cloud: GpuCloudStandIn;
let keys: Sshd; // only for its client key pair, which the instances are given at create
const ENV = "SOPHONT_TEST_CLOUD_KEY";

const provider = (o: Partial<CloudOptions> = {}) => new CloudGpuProvider({
  name: "stand-in", apiUrl: cloud.url, apiKeyEnv: ENV, image: "sophont-trainer:test", user: keys.user, keyPath: keys.privateKeyPath,
  workDir: `sophont-cloud-${process.pid}`, offers: [{ gpuType: "H100", region: "eu", pricePerHour: 2.5 }, { gpuType: "A100", region: "us", pricePerHour: 1.2 }],
  maxCostPerJob: 10, maxCostPerDay: 50, pollMs: 100, ssh: { retry: { attempts: 8, baseDelayMs: 100, maxDelayMs: 1_000 } }, ...o,
});

const worker = (o: Partial<CloudOptions> = {}, fallbackLocal = false): MuscleWorker =>
  muscle(w, { providers: { cloud: provider(o), local: new LocalProvider(path.join(w.scratch, "local")) }, fallbackLocal });

beforeAll(async () => void ({ w, cloud, keys } = await startCloudWorld(ENV)), 120_000);
afterAll(() => stopCloudWorld({ w, cloud, keys }));

const request = async (jobId: string) => {
  const data = requestTraining(await projectAt(w.store, ledgers, "now"), await projectAt(w.store, lineage, "now"), {
    jobId, host: "cloud", recipe: fixedSteps(tinyRecipe, 4), baseModelSha256: w.lm.identity.sha256, atSeq: await w.store.lastSeq(), deadlineMs: 120_000, requestedBy: "test",
  });
  await w.store.append([{ event: { type: "TrainingRequested", data }, metadata: { id: `request-${jobId}`, time: new Date().toISOString(), actor: "soul", causationId: null, correlationId: jobId } }]);
};
const released = (jobId: string) => waitFor(async () => {
  const e = await jobEvents(w, jobId);
  return e.some((x) => x.type === "HostReleased" || (x.type === "TrainingFailed" && !e.some((y) => y.type === "HostProvisioned"))) ? e : undefined;
}, 150_000, `${jobId} released`);
const data = <T extends string>(events: Awaited<ReturnType<typeof jobEvents>>, type: T) => events.find((e) => e.type === type)?.data as EventData<T & Parameters<typeof Object>[0]>;

describe("a GPU rented per job (stand-in API, real sshd instances)", () => {
  it("rents past a capacity refusal, pins the key on first contact, trains, and terminates through a failed first try", async () => {
    cloud.noCapacity.add("H100");
    cloud.failTerminates = 1;
    const m = worker();
    await m.start();
    try {
      await request("job-cloud");
      const events = await released("job-cloud");
      expect(events.map((e) => e.type).filter((t) => t !== "TrainingProgressed")).toEqual(["TrainingRequested", "InstanceCreated", "HostProvisioned", "DatasetUploaded", "TrainingStarted", "AdapterTrained", "InstanceTerminated", "HostReleased"]);
      const created = data(events, "InstanceCreated") as EventData<"InstanceCreated">;
      expect(created).toMatchObject({ gpuType: "A100", region: "us", pricePerHour: 1.2, attempts: [{ gpuType: "H100", region: "eu", error: expect.stringContaining("409") }] });
      const instance = cloud.instances.get(created.instanceId)!;
      expect(created.hostKeyFingerprint).toBe(instance.sshd!.hostKeyFingerprint);
      expect(instance.status).toBe("terminated");
      const gone = data(events, "InstanceTerminated") as EventData<"InstanceTerminated">;
      expect(gone).toMatchObject({ reason: "done", failedTries: 1, instanceId: created.instanceId });
      expect(gone.cost).toBeCloseTo((gone.seconds / 3600) * 1.2, 6);
      const all = JSON.stringify(await collect(w.store.read()));
      expect(all).not.toContain(cloud.apiKey);
      expect(cloud.requests.every((r) => r.authorised)).toBe(true);
    } finally {
      await m.stop();
      cloud.noCapacity.clear();
    }
  }, 200_000);

  it("a Muscle killed between create and the first job: the next one resumes on the same instance, and terminates it", async () => {
    const before = cloud.instances.size;
    const first = worker();
    await first.start();
    await request("job-crash");
    await waitFor(async () => ([...cloud.instances.values()].some((i) => i.name === "sophont-job-crash") ? true : undefined), 60_000, "the instance");
    await first.stop();
    const second = worker();
    await second.start();
    try {
      const events = await released("job-crash");
      expect(events.map((e) => e.type)).toContain("AdapterTrained");
      expect([...cloud.instances.values()].filter((i) => i.name === "sophont-job-crash")).toHaveLength(1);
      expect(cloud.instances.size).toBe(before + 1);
      expect([...cloud.instances.values()].every((i) => i.status === "terminated")).toBe(true);
    } finally {
      await second.stop();
    }
  }, 250_000);

  it("terminates on start an instance whose job is unknown to the log, and reports it", async () => {
    const res = await fetch(`${cloud.url}/instances`, { method: "POST", headers: { authorization: `Bearer ${cloud.apiKey}` }, body: JSON.stringify({ name: "sophont-ghost", gpuType: "A100", region: "us", sshPublicKey: "" }) });
    const ghost = (await res.json()) as { id: string };
    const m = worker();
    await m.start();
    await m.stop();
    expect(cloud.instances.get(ghost.id)!.status).toBe("terminated");
    expect(data(await jobEvents(w, "ghost"), "InstanceTerminated")).toMatchObject({ instanceId: ghost.id, reason: "reconciled: no live job" });
  }, 60_000);

  it("with no GPU to be had: fails with kind capacity, or runs on this machine when the policy allows and says why", async () => {
    for (const t of ["H100", "A100"]) cloud.noCapacity.add(t);
    const strict = worker();
    await strict.start();
    await request("job-none");
    const failed = data(await released("job-none"), "TrainingFailed") as EventData<"TrainingFailed">;
    await strict.stop();
    expect(failed).toMatchObject({ kind: "capacity" });
    expect(failed.error).toMatch(/no GPU could be rented .* H100 in eu: 409.*A100 in us: 409.*waits for the next request/);
    const lenient = worker({}, true);
    await lenient.start();
    try {
      await request("job-fallback");
      const events = await released("job-fallback");
      expect(data(events, "ProviderChosen")).toMatchObject({ provider: "local", passedOver: [{ provider: "cloud:stand-in" }] });
      expect(data(events, "HostProvisioned")).toMatchObject({ provider: "local" });
      expect(events.map((e) => e.type)).toContain("AdapterTrained");
    } finally {
      await lenient.stop();
      cloud.noCapacity.clear();
    }
  }, 250_000);

  it("a cancel while the GPU boots: the instance is terminated and reported, though its creation was never recorded", async () => {
    cloud.holdStarting = true;
    const m = worker();
    await m.start();
    try {
      await request("job-cancel-boot");
      await waitFor(async () => [...cloud.instances.values()].find((i) => i.name === "sophont-job-cancel-boot"), 60_000, "the instance");
      await w.store.append([{ event: { type: "TrainingCancelRequested", data: { jobId: "job-cancel-boot", by: "test" } }, metadata: { id: "cancel-job-cancel-boot", time: new Date().toISOString(), actor: "cli", causationId: null, correlationId: "job-cancel-boot" } }]);
      const events = await waitFor(async () => {
        const e = await jobEvents(w, "job-cancel-boot");
        return e.some((x) => x.type === "InstanceTerminated") ? e : undefined;
      }, 60_000, "the instance terminated");
      expect(events.map((e) => e.type)).toEqual(["TrainingRequested", "TrainingCancelRequested", "TrainingFailed", "InstanceTerminated"]);
      expect(data(events, "InstanceTerminated")).toMatchObject({ purpose: "training", reason: expect.stringMatching(/^cancelled; its creation was never recorded/) });
      expect([...cloud.instances.values()].find((i) => i.name === "sophont-job-cancel-boot")!.status).toBe("terminated");
    } finally {
      await m.stop();
      cloud.holdStarting = false;
    }
  }, 100_000);

  it("refuses offers over the cost cap per job before calling the API", async () => {
    const p = provider({ maxCostPerJob: 0.5 });
    await expect(p.provision({ jobId: "job-dear", deadlineMs: 3_600_000 })).rejects.toMatchObject({ _tag: "CostCapError", message: expect.stringMatching(/exceeds the cap of 0.5 per job/) });
  });

  it("counts what the job already spent (its staging machine) in the cap per job", async () => {
    // 1.2/h x 1 h fits the cap of 10 alone; with 9 already spent on the job it does not, and nothing is rented.
    const before = cloud.instances.size;
    const p = provider({ offers: [{ gpuType: "A100", region: "us", pricePerHour: 1.2 }], spentOnJob: async (id) => (id === "job-staged" ? 9 : 0) });
    await expect(p.provision({ jobId: "job-staged", deadlineMs: 3_600_000 })).rejects.toMatchObject({ _tag: "CostCapError", message: expect.stringMatching(/9\.00 already spent on the job \+ up to 1\.20 for the job exceeds the cap of 10 per job/) });
    expect(cloud.instances.size).toBe(before);
  });
});
