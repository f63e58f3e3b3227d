import { randomUUID } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { Refusal } from "../../../actors/decider.ts";
import { requestTraining } from "../../../actors/muscle/request.ts";
import { recipeFrom } from "../training-config.ts";
import { narrateTraining } from "../training-narration.ts";
import type { DomainEvent } from "../../../events/catalogue.ts";
import type { Recipe } from "../../../events/training.ts";
import { ledgers } from "../../../projections/ledgers.projection.ts";
import { lineage } from "../../../projections/lineage.projection.ts";
import { projectAt } from "../../../projections/runner.ts";
import { defineCommand } from "../command.ts";
import { parsePosition, percent, printResult, readable, table, UsageError } from "../format.ts";
import { openModels } from "../models.ts";
import { openRuntime, type Runtime } from "../runtime.ts";
import { planLines, planStorage, stagingLine, storageLine } from "../../../actors/muscle/plan.ts";
import { cloudDevice, readCloudFile } from "../../cloud/config.ts";
import { hostsFilePath } from "../../ssh/hosts.ts";
import { planner } from "../../training/planner.ts";
import { replayLine, replayPlan } from "../../training/replay.ts";
import { makeTinyModels, shippedCorpusDir } from "../../llm/tiny/factory.ts";
import path from "node:path";

const readRecipe = (file: string | undefined, base: Recipe): Recipe => {
  if (!file) return base;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new UsageError(`cannot read the recipe ${file}: ${(e as Error).message}`);
  }
  return recipeFrom(raw, (m) => new UsageError(`${file}: ${m}`), "recipe", base);
};

const append = (rt: Runtime, event: DomainEvent, correlationId: string, time: Date) =>
  rt.store.append([{ event, metadata: { id: randomUUID(), time: time.toISOString(), actor: "cli", causationId: null, correlationId }, expectedSubjectSeq: 0 }]);

/** Prints the job's events as they come, until its verdict or its failure. */
const follow = async (rt: Runtime, jobId: string, out: (s: string) => void, signal: AbortSignal, result?: (verdict: DomainEvent) => void): Promise<number> => {
  for await (const e of rt.store.read({ follow: true, signal })) {
    const d = e.data as { jobId?: string };
    if (d.jobId !== jobId) continue;
    if (e.type === "AdapterPromoted" || e.type === "AdapterRolledBack" || e.type === "TrainingFailed") result?.(e);
    const line = narrateTraining(e);
    out(line ?? e.type);
    if (e.type === "AdapterPromoted") return 0;
    if (e.type === "AdapterRolledBack") return 3;
    if (e.type === "TrainingFailed") return (out(e.data.lastLines.slice(-5).map((l) => `  | ${l}`).join("\n")), 4);
  }
  return 130;
};

export const train = defineCommand({
  path: ["train"],
  summary: "train a LoRA adapter on the ledgers, evaluate it, and promote or roll it back",
  usage: "sophont train [--host NAME | --local] [--recipe FILE] [--deadline MINUTES] [--plan] [--json]",
  details: [
    "Requests a training job on the SFT Ledger, the Shadow Ledger and the Golden Anchor set as they are now",
    "(one accepted input in four is held out to measure the gain), on a host of the hosts file (`sophont host add`)",
    "or, without --host (or with --local), as a process on this machine. Runs the Muscle and the Soul's",
    "evaluation here until the verdict. --recipe: a JSON object overriding keys of the recipe (config.json training.recipe over the default recipe).",
    "Every job is planned first (the same plan as --plan): one that cannot fit its device's memory, or",
    "cannot end before its deadline there, is refused before any host is provisioned.",
    "--plan: only print the memory plan of such a job (quantized base from the GGUF's tensor types, LoRA,",
    "optimiser, activations with per-layer checkpointing at the recipe's seqLen and batch) against the",
    "host's GPU memory (hosts.json gpuMemoryGiB; with --host cloud, the smallest gpuMemoryGiB of cloud.json's offers,",
    "a line with the volume's storage cost a month and whether the base fits on it, and one with the staging's time and cost",
    "at volume.uploadMBps) or this machine's;",
    "exit 0 when it fits, 5 when not.",
    "Exit 0: promoted; 3: rolled back; 4: the job failed. --json: the narration goes to stderr, the verdict event to stdout.",
    "On a test clock (SOPHONT_TEST_CLOCK, see `sophont up --help`) the request's time and its deadline follow that clock.",
  ].join("\n"),
  options: { host: { type: "string" }, local: { type: "boolean" }, recipe: { type: "string" }, deadline: { type: "string" }, plan: { type: "boolean" }, json: { type: "boolean" } },
  run: async (ctx, v): Promise<number> => {
    if (v.host && v.local) throw new UsageError("name a --host or --local, not both");
    const recipe = readRecipe(v.recipe as string | undefined, ctx.config.training.recipe);
    const deadlineMs = Number(v.deadline ?? 60) * 60_000;
    if (!(deadlineMs > 0)) throw new UsageError("--deadline takes a positive number of minutes");
    if (v.plan) {
      const modelPath = ctx.config.modelPath ?? makeTinyModels({ corpusDir: shippedCorpusDir, outDir: path.join(ctx.config.home, "models", "tiny") }).lmPath;
      const host = (v.host as string | undefined) ?? null;
      // A rented GPU: the smallest offer of cloud.json, and its volume's storage cost.
      const cloud = host === "cloud" ? readCloudFile(ctx.config.home) : undefined;
      if (host === "cloud" && !cloud) return (ctx.err(`--host cloud needs ${path.join(ctx.config.home, "cloud.json")} (see the README's GPU-host section)`), 2);
      const device = cloud ? cloudDevice(cloud) : undefined;
      if (cloud && !device) return (ctx.err(`cloud.json's offers declare no GPU memory: add "gpuMemoryGiB" to each offer`), 2);
      const plan = await planner({ baseModelPath: modelPath, hostsFile: hostsFilePath(ctx.config.home) })(
        { jobId: "plan", host, recipe, deadlineMs, baseModelSha256: "", ledger: { atSeq: 0, sft: [], heldOut: [], anchor: [], shadow: [] }, mergeWith: [], requestedBy: "cli" }, device,
      );
      if (!plan) return (ctx.err(`the hosts file declares no GPU memory for ${host}: add "gpuMemoryGiB" to its entry (sophont host add --help)`), 2);
      const storage = cloud?.volume ? planStorage(cloud.volume, statSync(modelPath).size) : undefined;
      const replay = replayPlan(recipe);
      if (v.json) ctx.out(JSON.stringify({ ...plan, replay, ...(storage ? { storage } : {}) }, null, 2));
      else for (const line of [...planLines(plan), replayLine(replay), ...(storage ? [storageLine(storage), stagingLine(storage)] : [])]) ctx.out(line);
      return plan.fits && (storage?.fits ?? true) ? 0 : 5;
    }
    const rt = await openRuntime(ctx.config, ctx.err);
    const models = await openModels(ctx.config, ctx.err);
    // The job's request time and deadline are on the process's clock (a test clock shared with an `up` beside it).
    const clock = ctx.config.clock;
    const actors = await (await import("../training.ts")).startTraining(rt, models.lm, ctx.config.home, {
      airlock: ctx.config.airlock, evaluation: { bounds: ctx.config.training.bounds }, ...(clock.description ? { clock: () => clock.now() } : {}),
    });
    try {
      const jobId = `job-${clock.now().toISOString().slice(0, 10)}-${randomUUID().slice(0, 8)}`;
      let data;
      try {
        data = requestTraining(await projectAt(rt.store, ledgers, "now"), await projectAt(rt.store, lineage, "now"), {
          jobId, host: (v.host as string | undefined) ?? null, recipe, baseModelSha256: models.lm.identity.sha256,
          atSeq: await rt.store.lastSeq(), deadlineMs, requestedBy: "cli",
        });
      } catch (e) {
        if (e instanceof Refusal) return (ctx.err(`refused: ${e.message}`), 2);
        throw e;
      }
      await append(rt, { type: "TrainingRequested", data }, jobId, clock.now());
      const say = v.json ? ctx.err : ctx.out;
      say(`${jobId}: ${data.ledger.sft.length} SFT entries (${data.ledger.heldOut.length} held out), ${data.ledger.anchor.length} anchors, ${data.ledger.shadow.length} DPO pairs, general-English replay ${recipe.generalReplayRatio ?? 0}, on ${data.host ?? "this machine"}`);
      return await follow(rt, jobId, say, ctx.signal, (verdict) => v.json && ctx.out(JSON.stringify({ jobId, verdict: verdict.type, data: verdict.data }, null, 2)));
    } finally {
      await actors.stop();
      await models.close();
      await rt.close();
    }
  },
});

export const trainCancel = defineCommand({
  path: ["train", "cancel"],
  summary: "cancel a training job: its process group on the host is killed",
  usage: "sophont train cancel JOB [--json]",
  options: { json: { type: "boolean" } },
  run: async (ctx, v, args): Promise<number> => {
    if (args.length !== 1) throw new UsageError("name one job");
    const rt = await openRuntime(ctx.config, ctx.err);
    try {
      const job = (await projectAt(rt.store, lineage, "now")).jobs.get(args[0]!);
      if (!job) return (ctx.err(`no job ${args[0]}`), 2);
      if (job.released || job.status === "failed") return (ctx.err(`job ${job.jobId} is over (${job.status})`), 2);
      await rt.store.append([{ event: { type: "TrainingCancelRequested", data: { jobId: job.jobId, by: "cli" } }, metadata: { id: randomUUID(), time: new Date().toISOString(), actor: "cli", causationId: null, correlationId: job.jobId } }]);
      printResult(ctx, v.json, { jobId: job.jobId, cancelRequested: true }, () => `cancel requested for ${job.jobId}`);
      return 0;
    } finally {
      await rt.close();
    }
  },
});

export const adapters = defineCommand({
  path: ["adapters"],
  summary: "the model lineage: each job, its ledger entries, merge, evaluation, and whether it serves",
  usage: "sophont adapters [--at SEQ|TIME] [--json]",
  options: { json: { type: "boolean" }, at: { type: "string" } },
  run: async (ctx, v) => {
    const at = v.at ? parsePosition(v.at as string, "--at") : "now";
    const rt = await openRuntime(ctx.config, ctx.err);
    try {
      const l = await projectAt(rt.store, lineage, at);
      if (v.json) return void ctx.out(JSON.stringify(lineage.toJSON!(l), null, 2));
      const pct = percent;
      ctx.out(table([
        ["job", "status", "host", "sft/held/anchor/dpo", "adapter", "merge", "gain", "forgetting"],
        ...[...l.jobs.values()].map((j) => [
          j.jobId, j.status + (l.serving?.jobId === j.jobId ? " (serving)" : ""), j.provisioned?.host ?? j.host ?? "local",
          `${j.ledger.sft}/${j.ledger.heldOut}/${j.ledger.anchor}/${j.ledger.shadow}`, (j.evaluation?.chosen?.sha256 ?? j.adapter?.sha256)?.slice(0, 12) ?? "-",
          j.evaluation?.chosen ? `${j.evaluation.chosen.method} (chosen)` : j.adapter ? `${j.adapter.merge.method}${j.adapter.merge.mergedFrom.length ? ` +${j.adapter.merge.mergedFrom.length} (err ${j.adapter.merge.reconstructionError.toFixed(3)})` : ""}` : "-",
          pct(j.evaluation?.gain), pct(j.evaluation?.forgetting),
        ]),
      ]));
      ctx.out(`serving: ${l.serving ? `${l.serving.sha256} (${l.serving.jobId})` : "the base model"}`);
    } finally {
      await rt.close();
    }
  },
});
