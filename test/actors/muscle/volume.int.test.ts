// The base on a rented provider's persistent volume (stand-in API, real sshd instances): staged from
// a machine without a GPU before any GPU is rented, found there by the next job, staged again when
// the volume lost it (the GPU given back first), and deleted after the job under policy delete.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestTraining, fixedSteps, tinyRecipe } from "../../../actors/muscle/request.ts";
import type { EventData } from "../../../events/catalogue.ts";
import { CloudGpuProvider, type CloudOptions, type VolumeOptions } from "../../../adapters/cloud/provider.ts";
import { ledgers } from "../../../projections/ledgers.projection.ts";
import { lineage } from "../../../projections/lineage.projection.ts";
import { projectAt } from "../../../projections/runner.ts";
import type { GpuCloudStandIn } from "../../support/gpu-cloud-stand-in.ts";
import type { Sshd } from "../../support/sshd.ts";
import { jobEvents, muscle, startCloudWorld, stopCloudWorld, waitFor, type World } from "./support.ts";

let w: World;
let cloud: GpuCloudStandIn;
let keys: Sshd; // only for its client key pair, which the instances are given at create
const ENV = "SOPHONT_TEST_VOLUME_KEY";

const volume = (o: Partial<VolumeOptions> = {}): VolumeOptions => ({
  name: "sophont-base", sizeGiB: 100, pricePerGiBMonth: 0.07, policy: "keep", staging: [{ machineType: "cpu-8", pricePerHour: 0.2 }, { machineType: "cpu-2", pricePerHour: 0.06 }], ...o,
});

const provider = (v: VolumeOptions) => new CloudGpuProvider({
  name: "stand-in", apiUrl: cloud.url, apiKeyEnv: ENV, image: "sophont-trainer:test", user: keys.user, keyPath: keys.privateKeyPath,
  workDir: `sophont-volume-${process.pid}`, offers: [{ gpuType: "A100", region: "us", pricePerHour: 1.2 }, { gpuType: "H100", region: "eu", pricePerHour: 2.5 }],
  maxCostPerJob: 10, maxCostPerDay: 50, pollMs: 100, ssh: { retry: { attempts: 8, baseDelayMs: 100, maxDelayMs: 1_000 } }, volume: { region: "eu", ...v },
} satisfies CloudOptions);

beforeAll(async () => void ({ w, cloud, keys } = await startCloudWorld(ENV)), 120_000);
afterAll(() => stopCloudWorld({ w, cloud, keys }));

type Events = Awaited<ReturnType<typeof jobEvents>>;
const all = <T extends "InstanceCreated" | "InstanceTerminated" | "BaseStaged" | "DatasetUploaded">(events: Events, type: T) =>
  events.filter((e) => e.type === type).map((e) => e.data as EventData<T>);

const request = async (jobId: string) => {
  const data = requestTraining(await projectAt(w.store, ledgers, "now"), await projectAt(w.store, lineage, "now"), {
    jobId, host: "cloud", recipe: fixedSteps(tinyRecipe, 4), baseModelSha256: w.lm.identity.sha256, atSeq: await w.store.lastSeq(), deadlineMs: 120_000, requestedBy: "test",
  });
  await w.store.append([{ event: { type: "TrainingRequested", data }, metadata: { id: `request-${jobId}`, time: new Date().toISOString(), actor: "soul", causationId: null, correlationId: jobId } }]);
};
/** The job's events once its volume was settled (the last thing a job on a volume does before HostReleased). */
const settled = (jobId: string, last: string = "HostReleased") => waitFor(async () => {
  const e = await jobEvents(w, jobId);
  return e.some((x) => x.type === last) ? e : undefined;
}, 150_000, `${jobId}: ${last}`);

/** Runs one job on the cloud through a Muscle with this volume; its events once released. */
const run = async (jobId: string, v: VolumeOptions): Promise<Events> => {
  const m = muscle(w, { providers: { cloud: provider(v) } });
  await m.start();
  try {
    await request(jobId);
    const events = await settled(jobId);
    expect(events.map((e) => e.type)).toContain("AdapterTrained");
    return events;
  } finally {
    await m.stop();
  }
};
const stagerOf = (jobId: string) => [...cloud.instances.values()].find((i) => i.name === `sophont-staging.${jobId}`);

/** Bytes that travelled for a job: staged on the volume plus uploaded to the GPU. */
const sent = (events: Events) => all(events, "BaseStaged").reduce((n, b) => n + b.sentBytes, 0) + all(events, "DatasetUploaded").reduce((n, d) => n + d.transfer!.sentBytes, 0);
const kinds = (events: Events) => events.filter((e) => e.type !== "TrainingProgressed").map((e) => {
  const purpose = (e.data as { purpose?: string }).purpose;
  return purpose ? `${e.type}:${purpose}` : e.type;
});

describe("the base on a provider's persistent volume", () => {
  it("is staged from a machine without a GPU before the GPU is rented; the next job rents the GPU at once and sends under 1% of the first's bytes", async () => {
    const first = await run("job-volume-1", volume());
    expect(kinds(first)).toEqual([
      "TrainingRequested", "InstanceCreated:staging", "BaseStaged", "InstanceTerminated:staging", "InstanceCreated:training", "HostProvisioned", "DatasetUploaded",
      "TrainingStarted", "AdapterTrained", "InstanceTerminated:training", "VolumeKept", "HostReleased",
    ]);
    const [stager, gpu] = all(first, "InstanceCreated");
    // The cheapest machine without a GPU staged; the GPU offer outside the volume's region was passed over.
    expect(stager).toMatchObject({ gpuType: "none", machineType: "cpu-2", region: "eu", pricePerHour: 0.06, purpose: "staging" });
    expect(gpu).toMatchObject({ gpuType: "H100", region: "eu", purpose: "training", volume: { name: "sophont-base" }, attempts: [{ gpuType: "A100", region: "us", error: expect.stringContaining("cannot mount it") }] });
    const staged = all(first, "BaseStaged")[0]!;
    expect(staged).toMatchObject({ stagingInstanceId: stager!.instanceId, volume: { name: "sophont-base", region: "eu", sizeGiB: 100, created: true, policy: "keep" } });
    expect(staged.volume.storageCostPerMonth).toBeCloseTo(7, 9);
    expect(staged.files.map((f) => [f.name, f.source])).toEqual([["base.gguf", "uploaded"], ["sophont_trainer", "uploaded"]]);
    // When the GPU was created the base already sat on the volume, and the stager was gone.
    const gpuInstance = cloud.instances.get(gpu!.instanceId)!;
    expect(gpuInstance.volumeBlobsAtCreate).toContain(w.lm.identity.sha256);
    const stagerGone = cloud.requests.findIndex((r) => r.method === "DELETE" && r.path === `/instances/${stager!.instanceId}`);
    expect(stagerGone).toBeGreaterThan(-1);
    expect(gpuInstance.createdAtRequest).toBeGreaterThan(stagerGone);
    // The GPU sent none of the base: it was on the volume.
    const up1 = all(first, "DatasetUploaded")[0]!.transfer!;
    expect(up1.cached.map((c) => [c.name, c.source, c.sentBytes])).toEqual([["sophont_trainer", "cached", 0], ["base.gguf", "cached", 0]]);
    const vol = cloud.volumes.get(staged.volume.id)!;
    expect(up1.cached[1]!.path).toBe(path.join(vol.dir, "sophont", "cache", "sha256", w.lm.identity.sha256));

    const second = await run("job-volume-2", volume());
    expect(kinds(second)).toEqual([
      "TrainingRequested", "InstanceCreated:training", "BaseStaged", "HostProvisioned", "DatasetUploaded", "TrainingStarted", "AdapterTrained", "InstanceTerminated:training", "VolumeKept", "HostReleased",
    ]);
    expect(all(second, "BaseStaged")[0]).toMatchObject({ stagingInstanceId: null, sentBytes: 0, volume: { id: staged.volume.id, created: false } });
    const s1 = sent(first), s2 = sent(second);
    console.log(`volume: first job sent ${s1} bytes (${staged.sentBytes} staged in ${staged.seconds.toFixed(2)} s from the stager, ${up1.sentBytes} to the GPU); second sent ${s2} (${(100 * s2 / s1).toFixed(4)}%), storage ${staged.volume.storageCostPerMonth.toFixed(2)} a month`);
    expect(s2).toBeLessThan(s1 / 100);
    expect(vol.status).toBe("available");
  }, 200_000);

  it("a volume that lost the base: the GPU goes back before any upload, the base is staged again, and a GPU is rented again", async () => {
    const vol = [...cloud.volumes.values()].find((v) => v.name === "sophont-base")!;
    rmSync(path.join(vol.dir, "sophont", "cache", "sha256"), { recursive: true, force: true });
    const events = await run("job-volume-lost", volume());
    expect(kinds(events)).toEqual([
      "TrainingRequested", "InstanceCreated:training", "InstanceTerminated:training", "InstanceCreated:staging", "BaseStaged", "InstanceTerminated:staging", "InstanceCreated:training", "HostProvisioned",
      "DatasetUploaded", "TrainingStarted", "AdapterTrained", "InstanceTerminated:training", "VolumeKept", "HostReleased",
    ]);
    expect(all(events, "InstanceTerminated")[0]!.reason).toMatch(/lacked the base/);
    expect(all(events, "DatasetUploaded")[0]!.transfer!.cached.find((c) => c.name === "base.gguf")).toMatchObject({ source: "cached", sentBytes: 0 });
  }, 200_000);

  it("policy delete: the volume is deleted after the job, and the event says so", async () => {
    const events = await run("job-volume-delete", volume({ name: "sophont-scratch", policy: "delete" }));
    const staged = all(events, "BaseStaged")[0]!;
    expect(kinds(events).slice(-3)).toEqual(["InstanceTerminated:training", "VolumeDeleted", "HostReleased"]);
    expect(events.find((e) => e.type === "VolumeDeleted")!.data).toMatchObject({ volumeId: staged.volume.id, name: "sophont-scratch" });
    expect(cloud.volumes.get(staged.volume.id)!.status).toBe("deleted");
    expect([...cloud.instances.values()].every((i) => i.status === "terminated")).toBe(true);
  }, 200_000);

  it("a Muscle stopped while its stager boots: the next one stages from the same stager, and everything is terminated", async () => {
    cloud.holdStarting = true;
    const first = muscle(w, { providers: { cloud: provider(volume({ name: "sophont-crash" })) } });
    await first.start();
    await request("job-volume-crash");
    await waitFor(async () => stagerOf("job-volume-crash"), 60_000, "the stager");
    await first.stop();
    cloud.holdStarting = false;
    const second = muscle(w, { providers: { cloud: provider(volume({ name: "sophont-crash" })) } });
    await second.start();
    try {
      const events = await settled("job-volume-crash");
      expect(events.map((e) => e.type)).toContain("AdapterTrained");
      const mine = [...cloud.instances.values()].filter((i) => i.name.endsWith("job-volume-crash"));
      expect(mine.map((i) => i.name).sort()).toEqual(["sophont-job-volume-crash", "sophont-staging.job-volume-crash"]);
      expect(mine.every((i) => i.status === "terminated")).toBe(true);
      expect(all(events, "BaseStaged")[0]!.stagingInstanceId).toBe(stagerOf("job-volume-crash")!.id);
    } finally {
      await second.stop();
    }
  }, 200_000);

  it("a cancel while the stager boots: the stager is terminated, no GPU is rented, the volume's policy applies", async () => {
    cloud.holdStarting = true;
    const m = muscle(w, { providers: { cloud: provider(volume({ name: "sophont-cancel", policy: "delete" })) } });
    await m.start();
    try {
      await request("job-volume-cancel");
      await waitFor(async () => stagerOf("job-volume-cancel"), 60_000, "the stager");
      await w.store.append([{ event: { type: "TrainingCancelRequested", data: { jobId: "job-volume-cancel", by: "test" } }, metadata: { id: "cancel-job-volume-cancel", time: new Date().toISOString(), actor: "cli", causationId: null, correlationId: "job-volume-cancel" } }]);
      const events = await settled("job-volume-cancel", "VolumeDeleted");
      expect(kinds(events)).toEqual(["TrainingRequested", "TrainingCancelRequested", "TrainingFailed", "InstanceTerminated:staging", "VolumeDeleted"]);
      expect(events.find((e) => e.type === "TrainingFailed")!.data).toMatchObject({ kind: "cancelled" });
      expect(stagerOf("job-volume-cancel")!.status).toBe("terminated");
      expect([...cloud.instances.values()].some((i) => i.name === "sophont-job-volume-cancel")).toBe(false);
    } finally {
      await m.stop();
      cloud.holdStarting = false;
    }
  }, 200_000);

  it("terminates on start a stager whose job is unknown to the log, and reports it", async () => {
    const res = await fetch(`${cloud.url}/instances`, { method: "POST", headers: { authorization: `Bearer ${cloud.apiKey}` }, body: JSON.stringify({ name: "sophont-staging.ghost-stager", cpuType: "cpu-2", region: "eu", sshPublicKey: "" }) });
    const ghost = (await res.json()) as { id: string };
    const m = muscle(w, { providers: { cloud: provider(volume()) } });
    await m.start();
    await m.stop();
    expect(cloud.instances.get(ghost.id)!.status).toBe("terminated");
    expect((await jobEvents(w, "ghost-stager")).map((e) => e.data)).toMatchObject([{ instanceId: ghost.id, purpose: "staging", reason: "reconciled: no live job" }]);
  }, 60_000);

  it("staging resumes a partial upload left on the volume: only the rest is sent, and the whole is verified", async () => {
    const res = await fetch(`${cloud.url}/volumes`, { method: "POST", headers: { authorization: `Bearer ${cloud.apiKey}` }, body: JSON.stringify({ name: "sophont-resume", region: "eu", sizeGiB: 100 }) });
    const made = cloud.volumes.get(((await res.json()) as { id: string }).id)!;
    // What an earlier stager left when its link dropped halfway: the first half of the base, as the login user wrote it.
    const blobs = path.join(made.dir, "sophont", "cache", "sha256");
    mkdirSync(blobs, { recursive: true });
    const base = readFileSync(w.lmPath);
    writeFileSync(path.join(blobs, `${w.lm.identity.sha256}.part`), base.subarray(0, base.length >> 1));
    execFileSync("chown", ["-R", `${keys.user}:`, path.join(made.dir, "sophont")]);
    const events = await run("job-volume-resume", volume({ name: "sophont-resume" }));
    const staged = all(events, "BaseStaged")[0]!;
    const file = staged.files.find((f) => f.name === "base.gguf")!;
    console.log(`volume: a resumed staging sent ${file.sentBytes} of the base's ${file.bytes} bytes`);
    expect(staged.volume).toMatchObject({ id: made.id, created: false });
    expect(file).toMatchObject({ source: "resumed", sha256: w.lm.identity.sha256, bytes: base.length });
    expect(file.sentBytes).toBeLessThan(base.length);
    expect(readFileSync(path.join(blobs, w.lm.identity.sha256)).equals(base)).toBe(true);
  }, 200_000);
});
