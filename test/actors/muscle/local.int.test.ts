import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestTraining, tinyRecipe } from "../../../actors/muscle/request.ts";
import type { MuscleWorker } from "../../../actors/muscle/worker.ts";
import type { Recipe } from "../../../events/training.ts";
import { LocalProvider } from "../../../adapters/local/provider.ts";
import { ledgers } from "../../../projections/ledgers.projection.ts";
import { lineage } from "../../../projections/lineage.projection.ts";
import { projectAt } from "../../../projections/runner.ts";
import { jobEvents, muscle, seedLedgers, startWorld, waitFor, type World } from "./support.ts";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { startTelemetry, type Telemetry } from "../../../adapters/telemetry/setup.ts";

let w: World;
let worker: MuscleWorker;
let hostDir: string;
let telemetry: Telemetry;
const spans = new InMemorySpanExporter();

beforeAll(async () => {
  telemetry = startTelemetry({ home: "/nonexistent", exporter: spans });
  w = await startWorld();
  await seedLedgers(w);
  hostDir = path.join(w.scratch, "local-host");
  worker = muscle(w, { providers: { local: new LocalProvider(hostDir) } });
  await worker.start();
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  await w?.close();
  await telemetry?.shutdown();
});

const request = async (jobId: string, recipe: Recipe, deadlineMs = 120_000) => {
  const data = requestTraining(await projectAt(w.store, ledgers, "now"), await projectAt(w.store, lineage, "now"), {
    jobId, host: null, recipe, baseModelSha256: w.lm.identity.sha256, atSeq: await w.store.lastSeq(), deadlineMs, requestedBy: "test",
  });
  await w.store.append([{ event: { type: "TrainingRequested", data }, metadata: { id: `request-${jobId}`, time: new Date().toISOString(), actor: "soul", causationId: null, correlationId: jobId } }]);
};

/** Pids of live (non-zombie) processes in a process group. */
const liveMembers = (group: number): number[] =>
  readdirSync("/proc").filter((f) => /^\d+$/.test(f)).flatMap((f) => {
    try {
      const fields = readFileSync(`/proc/${f}/stat`, "utf8").split(") ")[1]!.split(" ");
      return Number(fields[2]) === group && fields[0] !== "Z" ? [Number(f)] : [];
    } catch {
      return [];
    }
  });

const settled = (jobId: string) =>
  waitFor(async () => {
    const events = await jobEvents(w, jobId);
    return events.some((e) => e.type === "HostReleased") || events.some((e) => e.type === "TrainingFailed") ? events : undefined;
  }, 90_000, `the end of ${jobId}`);

describe("the local provider: the same job protocol as a process on this machine", () => {
  it("trains, downloads and verifies an adapter, and cleans its job directory", async () => {
    await request("local-ok", tinyRecipe);
    const events = await settled("local-ok");
    expect(events.map((e) => e.type).filter((t) => t !== "TrainingProgressed")).toEqual([
      "TrainingRequested", "HostProvisioned", "DatasetUploaded", "TrainingStarted", "AdapterTrained", "HostReleased",
    ]);
    // Every step of the job is a span.
    const names = spans.getFinishedSpans().filter((sp) => sp.attributes["sophont.job"] === "local-ok").map((sp) => sp.name);
    expect(names).toEqual(expect.arrayContaining(["muscle.provision", "muscle.upload", "muscle.start", "muscle.follow", "muscle.download", "muscle.release"]));
    expect(events.find((e) => e.type === "HostProvisioned")!.data).toMatchObject({ host: "local", provider: "local", gpus: [] });
    // Step, loss and ETA as the trainer reported them: the last step of the phase has nothing left.
    const steps = events.filter((e) => e.type === "TrainingProgressed").map((e) => e.data as { step: number; of: number; loss: number | null; etaSeconds: number | null });
    const last = steps.at(-1)!;
    expect([last.step, last.etaSeconds]).toEqual([last.of, 0]);
    expect(steps.every((p) => p.loss !== null && (p.step === 1 ? p.etaSeconds === null : p.etaSeconds! >= 0))).toBe(true);
    expect(existsSync(path.join(hostDir, "jobs", "local-ok"))).toBe(false);
  }, 120_000);

  it("cancels a running job on request: its process group is killed and the failure reported", async () => {
    await request("local-cancel", { ...tinyRecipe, sftSteps: 5_000 });
    await waitFor(async () => (await jobEvents(w, "local-cancel")).find((e) => e.type === "TrainingProgressed"), 60_000, "progress");
    await w.store.append([{ event: { type: "TrainingCancelRequested", data: { jobId: "local-cancel", by: "test" } }, metadata: { id: "cancel-local", time: new Date().toISOString(), actor: "cli", causationId: null, correlationId: "local-cancel" } }]);
    const events = await settled("local-cancel");
    expect(events.find((e) => e.type === "TrainingFailed")!.data).toMatchObject({ kind: "cancelled", error: "cancelled by test on request" });
    expect(events.at(-1)).toMatchObject({ type: "HostReleased", data: { cleaned: false } });
    const pid = (events.find((e) => e.type === "TrainingStarted")!.data as { pid: number }).pid;
    expect(liveMembers(pid)).toEqual([]); // the whole group is gone (zombies awaiting their reaper aside)
  }, 120_000);

  it("stops a job past its deadline and reports it with the trainer's last lines", async () => {
    // The deadline must come after the trainer has spoken, whatever the load: a fixed short deadline
    // raced torch's import (flaky). So the job gets a long one, and once it reports a step this Muscle
    // is replaced by one whose clock reads past the deadline: it re-attaches to the running trainer and
    // must stop it there.
    await request("local-late", { ...tinyRecipe, sftSteps: 5_000 }, 120_000);
    const first = await waitFor(async () => (await jobEvents(w, "local-late")).find((e) => e.type === "TrainingProgressed"), 90_000, "a step of local-late");
    await worker.stop();
    worker = muscle(w, { providers: { local: new LocalProvider(hostDir) }, clock: () => new Date(Date.now() + 121_000) });
    await worker.start();
    const events = await settled("local-late");
    const failed = events.find((e) => e.type === "TrainingFailed")!.data as { kind: string; lastLines: readonly string[] };
    expect(failed.kind).toBe("deadline");
    expect(failed.lastLines.some((l) => l.includes('"event": "progress"'))).toBe(true);
    const pid = (events.find((e) => e.type === "TrainingStarted")!.data as { pid: number }).pid;
    expect(liveMembers(pid)).toEqual([]);
    expect(first.seq).toBeLessThan(events.find((e) => e.type === "TrainingFailed")!.seq);
    await worker.stop();
    worker = muscle(w, { providers: { local: new LocalProvider(hostDir) } });
    await worker.start();
  }, 180_000);

  it("reports a job cancelled while no Muscle ran, without ever starting it", async () => {
    await worker.stop();
    await request("local-never", tinyRecipe);
    await w.store.append([{ event: { type: "TrainingCancelRequested", data: { jobId: "local-never", by: "test" } }, metadata: { id: "cancel-never", time: new Date().toISOString(), actor: "cli", causationId: null, correlationId: "local-never" } }]);
    worker = muscle(w, { providers: { local: new LocalProvider(hostDir) } });
    await worker.start();
    const events = await settled("local-never");
    expect(events.map((e) => e.type)).toEqual(["TrainingRequested", "TrainingCancelRequested", "TrainingFailed"]);
    expect(events.at(-1)!.data).toMatchObject({ kind: "cancelled", error: "cancelled by test on request, before the trainer was launched" });
  }, 60_000);
});
