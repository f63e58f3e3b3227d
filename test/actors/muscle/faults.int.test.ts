import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestTraining, fixedSteps, tinyRecipe } from "../../../actors/muscle/request.ts";
import type { MuscleWorker } from "../../../actors/muscle/worker.ts";
import type { Recipe } from "../../../events/training.ts";
import type { EventData } from "../../../events/catalogue.ts";
import { StaticSshProvider } from "../../../adapters/ssh/provider.ts";
import { ledgers } from "../../../projections/ledgers.projection.ts";
import { lineage } from "../../../projections/lineage.projection.ts";
import { projectAt } from "../../../projections/runner.ts";
import { startSshd, type Sshd } from "../../support/sshd.ts";
import { hostsFileFor, jobEvents, muscle, seedLedgers, startWorld, waitFor, type World } from "./support.ts";

let w: World;
let sshd: Sshd;
let hostsFile: string;
const workDir = `sophont-faults-${process.pid}`;
const connections: string[] = [];
const launches: string[] = [];

beforeAll(async () => {
  [w, sshd] = await Promise.all([startWorld(), startSshd()]);
  await seedLedgers(w);
  hostsFile = hostsFileFor(w, sshd, workDir);
}, 120_000);

afterAll(async () => {
  await sshd?.stop();
  await w?.close();
});

const newMuscle = (): MuscleWorker =>
  muscle(w, {
    providers: { ssh: new StaticSshProvider(hostsFile, { retry: { attempts: 10, baseDelayMs: 100, maxDelayMs: 1_000 }, onConnected: ({ host }) => connections.push(host) }) },
    cleanRemote: false, // the remote log is the evidence of how many times the trainer started
    onLaunch: ({ outcome }) => launches.push(outcome),
    onEvent: (e) => process.env.DEBUG_MUSCLE && console.log(new Date().toISOString(), JSON.stringify(e)),
  });

const request = async (jobId: string, recipe: Recipe) => {
  const data = requestTraining(await projectAt(w.store, ledgers, "now"), await projectAt(w.store, lineage, "now"), {
    jobId, host: "loopback", recipe, baseModelSha256: w.lm.identity.sha256, atSeq: await w.store.lastSeq(), deadlineMs: 150_000, requestedBy: "test",
  });
  await w.store.append([{ event: { type: "TrainingRequested", data }, metadata: { id: `request-${jobId}`, time: new Date().toISOString(), actor: "soul", causationId: null, correlationId: jobId } }]);
};

const progressed = (jobId: string, step: number) =>
  waitFor(async () => (await jobEvents(w, jobId)).find((e) => e.type === "TrainingProgressed" && (e.data as { step: number }).step >= step), 90_000, `step ${step} of ${jobId}`);

const ended = (jobId: string) =>
  waitFor(async () => (await jobEvents(w, jobId)).find((e) => e.type === "HostReleased" || e.type === "TrainingFailed"), 120_000, `the end of ${jobId}`);

describe("the Muscle under faults (real sshd)", () => {
  it("re-attaches after the SSH sessions are killed and after a restart of the Muscle: the trainer runs once, the artifacts verify", async () => {
    let first = newMuscle();
    await first.start();
    await request("job-cut", fixedSteps(tinyRecipe, 120));
    await progressed("job-cut", 5);
    const before = connections.length;
    sshd.killSessions(); // the link drops mid-training
    // The Muscle connects again (a fast trainer can pass step 20 before the new connection: wait for it).
    await waitFor(async () => connections.length > before || undefined, 60_000, "a new SSH connection after the kill");
    await progressed("job-cut", 20);
    expect(connections.length).toBeGreaterThan(before);
    await first.stop(); // and the Muscle dies
    const second = newMuscle();
    await second.start();
    const end = await ended("job-cut");
    await second.stop();
    expect(end.type, JSON.stringify(end.data)).toBe("HostReleased");
    const types = (await jobEvents(w, "job-cut")).map((e) => e.type).filter((t) => t !== "TrainingProgressed");
    expect(types).toEqual(["TrainingRequested", "HostProvisioned", "DatasetUploaded", "TrainingStarted", "AdapterTrained", "HostReleased"]);
    expect(launches).toEqual(["started", "attached"]);
    const jobDir = path.join(sshd.home, workDir, "jobs", "job-cut");
    const log = readFileSync(path.join(jobDir, "log"), "utf8");
    const started = log.split("\n").filter((l) => l.includes('"event": "started"'));
    console.log(`job-cut: ${connections.length} SSH connections, launches ${launches.join(", ")}, ${started.length} 'started' line(s) in the remote log of ${log.split("\n").length - 1} lines`);
    expect(started).toHaveLength(1);
    const trained = (await jobEvents(w, "job-cut")).find((e) => e.type === "AdapterTrained")!.data as EventData<"AdapterTrained">;
    const remoteBytes = readFileSync(path.join(jobDir, "out", "adapter.gguf"));
    const stored = await w.content.get(trained.adapterSha256);
    expect(createHash("sha256").update(remoteBytes).digest("hex")).toBe(trained.adapterSha256);
    expect(createHash("sha256").update(stored!).digest("hex")).toBe(trained.adapterSha256);
    const steps = (await jobEvents(w, "job-cut")).filter((e) => e.type === "TrainingProgressed").map((e) => (e.data as { step: number }).step);
    expect(steps).toEqual([...steps].sort((a, b) => a - b)); // resumed from the log offset: no step recorded twice
    expect(new Set(steps).size).toBe(steps.length);
  }, 180_000);

  it("refuses a host whose key changed, with a TrainingFailed naming both fingerprints", async () => {
    const pinned = sshd.hostKeyFingerprint;
    const presented = await sshd.rotateHostKey();
    const worker = newMuscle();
    await worker.start();
    await request("job-mitm", tinyRecipe);
    const end = await ended("job-mitm");
    await worker.stop();
    expect(end.type).toBe("TrainingFailed");
    expect(end.data).toMatchObject({ stage: "provisioning", kind: "host-key", exitCode: null });
    expect((end.data as { error: string }).error).toContain(pinned);
    expect((end.data as { error: string }).error).toContain(presented);
    const types = (await jobEvents(w, "job-mitm")).map((e) => e.type);
    expect(types).toEqual(["TrainingRequested", "TrainingFailed"]); // never provisioned, nothing uploaded
  }, 60_000);
});
