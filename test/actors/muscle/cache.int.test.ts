// The base goes up once: two jobs on the same host, the second sending only its datasets and recipe;
// a host whose hosts-file entry names its own copy of the base sends none of it.
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestTraining, fixedSteps, tinyRecipe } from "../../../actors/muscle/request.ts";
import type { MuscleWorker } from "../../../actors/muscle/worker.ts";
import type { EventData } from "../../../events/catalogue.ts";
import { StaticSshProvider } from "../../../adapters/ssh/provider.ts";
import { ledgers } from "../../../projections/ledgers.projection.ts";
import { lineage } from "../../../projections/lineage.projection.ts";
import { projectAt } from "../../../projections/runner.ts";
import { startSshd, type Sshd } from "../../support/sshd.ts";
import { jobEvents, muscle, seedLedgers, startWorld, waitFor, type World } from "./support.ts";

let w: World;
let sshd: Sshd;
let worker: MuscleWorker;
const workDir = `sophont-muscle-cache-${process.pid}`;
const ownDir = `sophont-muscle-own-${process.pid}`;

const hostsFile = (): string => {
  const file = path.join(w.scratch, "hosts.json");
  const common = { host: sshd.host, port: sshd.port, user: sshd.user, keyPath: sshd.privateKeyPath, hostKeyFingerprint: sshd.hostKeyFingerprint };
  writeFileSync(file, JSON.stringify({
    hosts: [
      { name: "loopback", ...common, workDir },
      { name: "own-base", ...common, workDir: ownDir, bases: [{ path: "models/base.gguf", sha256: w.lm.identity.sha256 }] },
    ],
  }));
  return file;
};

beforeAll(async () => {
  [w, sshd] = await Promise.all([startWorld(), startSshd()]);
  await seedLedgers(w);
  // The host's own copy of the base, where a user would have put it (rsync, a volume).
  const own = path.join(sshd.home, ownDir, "models", "base.gguf");
  mkdirSync(path.dirname(own), { recursive: true });
  copyFileSync(w.lmPath, own);
  execFileSync("chown", ["-R", `${sshd.user}:`, path.join(sshd.home, ownDir)]);
  worker = muscle(w, { providers: { ssh: new StaticSshProvider(hostsFile(), { retry: { attempts: 8, baseDelayMs: 100, maxDelayMs: 1_000 } }) } });
  await worker.start();
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  for (const d of [workDir, ownDir]) rmSync(path.join(sshd.home, d), { recursive: true, force: true });
  await sshd?.stop();
  await w?.close();
});

const run = async (jobId: string, host: string) => {
  const data = requestTraining(await projectAt(w.store, ledgers, "now"), await projectAt(w.store, lineage, "now"), {
    jobId, host, recipe: fixedSteps(tinyRecipe, 4), baseModelSha256: w.lm.identity.sha256, atSeq: await w.store.lastSeq(), deadlineMs: 120_000, requestedBy: "test",
  });
  await w.store.append([{ event: { type: "TrainingRequested", data }, metadata: { id: `request-${jobId}`, time: new Date().toISOString(), actor: "soul", causationId: null, correlationId: jobId } }]);
  const events = await waitFor(async () => {
    const e = await jobEvents(w, jobId);
    return e.some((x) => x.type === "HostReleased") ? e : undefined;
  }, 150_000, `${jobId} released`);
  expect(events.map((e) => e.type)).toContain("AdapterTrained");
  return events.find((e) => e.type === "DatasetUploaded")!.data as EventData<"DatasetUploaded">;
};

describe("the host's cache in a job", () => {
  it("sends the base and the trainer payload with the first job only; the second sends under 1% of the first's bytes", async () => {
    const first = await run("job-cache-1", "loopback");
    const second = await run("job-cache-2", "loopback");
    const t1 = first.transfer!, t2 = second.transfer!;
    console.log(`first job sent ${t1.sentBytes} of ${t1.totalBytes} bytes in ${t1.seconds.toFixed(2)} s; second sent ${t2.sentBytes} of ${t2.totalBytes} in ${t2.seconds.toFixed(2)} s`);
    expect(t1.cached.map((c) => [c.name, c.source])).toEqual([["sophont_trainer", "uploaded"], ["base.gguf", "uploaded"]]);
    expect(t2.cached.map((c) => [c.name, c.source])).toEqual([["sophont_trainer", "cached"], ["base.gguf", "cached"]]);
    expect(t2.totalBytes).toBe(t1.totalBytes);
    expect(t2.sentBytes).toBeLessThan(t1.sentBytes / 100);
    expect(t1.cached[1]!.sha256).toBe(w.lm.identity.sha256);
    expect(t1.cached[1]!.path).toBe(path.join(sshd.home, workDir, "cache", "sha256", w.lm.identity.sha256));
    expect(first.files.find((f) => f.name === "base.gguf")).toMatchObject({ sha256: w.lm.identity.sha256 });
  }, 300_000);

  it("uses the host's own copy of the base that the hosts file names, once its hash is checked", async () => {
    const uploaded = await run("job-own-base", "own-base");
    const base = uploaded.transfer!.cached.find((c) => c.name === "base.gguf")!;
    expect(base).toMatchObject({ source: "host", sentBytes: 0, path: path.join(sshd.home, ownDir, "models", "base.gguf") });
  }, 200_000);
});
