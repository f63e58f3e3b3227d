// From TrainingRequested to the trainer's first step on the tiny model, over a real sshd on loopback,
// split into connect (HostProvisioned), upload (DatasetUploaded: payload, base model, datasets, each
// verified), start (TrainingStarted) and the first step (the first TrainingProgressed, as the Muscle
// reads it from the log). Baseline, in the same run: the same job directory trained directly by the
// same Python, timed from spawn to its first progress line. ratio = baseline / ours (higher is better):
// the share of the wait that is the trainer's own start-up rather than the Muscle's.
import { spawn } from "node:child_process";
import { cpSync, rmSync } from "node:fs";
import path from "node:path";
import { requestTraining, fixedSteps, tinyRecipe } from "../../actors/muscle/request.ts";
import { StaticSshProvider } from "../../adapters/ssh/provider.ts";
import { ledgers } from "../../projections/ledgers.projection.ts";
import { lineage } from "../../projections/lineage.projection.ts";
import { projectAt } from "../../projections/runner.ts";
import { startSshd } from "../support/sshd.ts";
import { hostsFileFor, jobEvents, muscle, seedLedgers, startWorld, waitFor } from "../actors/muscle/support.ts";
import { writeBenchResult } from "./support/result.ts";

const REPS = 3;
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Milliseconds from spawning the trainer on a job directory to its first progress line. */
const direct = (jobDir: string): Promise<number> =>
  new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn("/usr/bin/python3", ["-u", "-m", "sophont_trainer", "train", jobDir, "--out", path.join(jobDir, "out-direct")], { env: { ...process.env, PYTHONPATH: path.join(jobDir, "payload") } });
    let buffer = "";
    child.stdout.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      if (buffer.includes('"event": "progress"')) {
        resolve(performance.now() - start);
        child.kill("SIGKILL");
      }
    });
    child.once("exit", (code) => reject(new Error(`the trainer exited with ${code} before its first step`)));
  });

const main = async (): Promise<void> => {
  const [w, sshd] = await Promise.all([startWorld(), startSshd()]);
  const workDir = `sophont-bench-start-${process.pid}`;
  const worker = muscle(w, { providers: { ssh: new StaticSshProvider(hostsFileFor(w, sshd, workDir)) }, cleanRemote: false, pollMs: 50 });
  const split: Record<"connectMs" | "uploadMs" | "startMs" | "firstStepMs" | "totalMs" | "directMs", number[]> = { connectMs: [], uploadMs: [], startMs: [], firstStepMs: [], totalMs: [], directMs: [] };
  try {
    await seedLedgers(w);
    await worker.start();
    for (let rep = 0; rep < REPS; rep++) {
      const jobId = `bench-${rep}`;
      const data = requestTraining(await projectAt(w.store, ledgers, "now"), await projectAt(w.store, lineage, "now"), {
        jobId, host: "loopback", recipe: fixedSteps(tinyRecipe, 3), baseModelSha256: w.lm.identity.sha256, atSeq: await w.store.lastSeq(), deadlineMs: 120_000, requestedBy: "bench",
      });
      await w.store.append([{ event: { type: "TrainingRequested", data }, metadata: { id: `bench-request-${rep}-${process.pid}`, time: new Date().toISOString(), actor: "bench", causationId: null, correlationId: jobId } }]);
      const events = await waitFor(async () => {
        const es = await jobEvents(w, jobId);
        return es.some((e) => e.type === "HostReleased") ? es : undefined;
      }, 120_000, jobId);
      const at = (type: string) => events.find((e) => e.type === type)!.storedAt;
      split.connectMs.push(at("HostProvisioned") - at("TrainingRequested"));
      split.uploadMs.push(at("DatasetUploaded") - at("HostProvisioned"));
      split.startMs.push(at("TrainingStarted") - at("DatasetUploaded"));
      split.firstStepMs.push(at("TrainingProgressed") - at("TrainingStarted"));
      split.totalMs.push(at("TrainingProgressed") - at("TrainingRequested"));
      const copy = path.join(w.scratch, `direct-${rep}`);
      cpSync(path.join(sshd.home, workDir, "jobs", jobId), copy, { recursive: true, filter: (f) => !/\/(out|log|pid|exit|\.started)$/.test(f) });
      split.directMs.push(await direct(copy));
    }
    const medians = Object.fromEntries(Object.entries(split).map(([k, v]) => [k, Math.round(median(v))]));
    writeBenchResult({
      name: "training-start",
      ratio: median(split.directMs) / median(split.totalMs),
      target: 0.5,
      better: "higher",
      figures: { reps: REPS, medianMs: medians, runsMs: split, model: "the project's tiny LM (one-head layout)", baseModelBytes: w.lm.identity.sizeBytes },
      summary: `TrainingRequested to the first step ${medians.totalMs} ms (connect ${medians.connectMs}, upload ${medians.uploadMs}, start ${medians.startMs}, first step ${medians.firstStepMs}) vs the trainer run directly ${medians.directMs} ms`,
    });
  } finally {
    await worker.stop();
    rmSync(path.join(sshd.home, workDir), { recursive: true, force: true });
    await sshd.stop();
    await w.close();
  }
};

await main();
