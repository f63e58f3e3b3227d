import { afterAll, beforeAll, describe, expect, it } from "vitest";
import path from "node:path";
import { plannedSteps } from "../../../actors/muscle/datasets.ts";
import { requestTraining, tinyRecipe } from "../../../actors/muscle/request.ts";
import type { MuscleWorker } from "../../../actors/muscle/worker.ts";
import { EvaluationWorker } from "../../../actors/soul/evaluation.worker.ts";
import type { EventData } from "../../../events/catalogue.ts";
import { StaticSshProvider } from "../../../adapters/ssh/provider.ts";
import { evaluationModel } from "../../../adapters/training/evaluation-model.ts";
import { ledgers } from "../../../projections/ledgers.projection.ts";
import { lineage } from "../../../projections/lineage.projection.ts";
import { projectAt } from "../../../projections/runner.ts";
import { startSshd, type Sshd } from "../../support/sshd.ts";
import { Effect } from "effect";
import { openLanguageModel } from "../../../adapters/llm/model.ts";
import { corpusLines } from "../../adapters/llm/support.ts";
import { hostsFileFor, jobEvents, muscle, seedLedgers, startWorld, tinyBase, waitFor, type World } from "./support.ts";

let w: World;
let sshd: Sshd;
let worker: MuscleWorker;
let soul: EvaluationWorker;
// Forgetting is measured on the Golden Anchor's evaluation part, never trained on: the tiny recipe's
// good job measured +12.6% there (anchor 11.89 -> 13.39, held-out gain 7.1%), which the trained-on
// anchor used to hide; the bound here is the plumbing's, not the product's default (0.1).
const bounds = { minGain: 0, maxForgetting: 0.2 };

beforeAll(async () => {
  [w, sshd] = await Promise.all([startWorld(), startSshd()]);
  await seedLedgers(w);
  const provider = new StaticSshProvider(hostsFileFor(w, sshd, `sophont-loop-${process.pid}`), { retry: { attempts: 8, baseDelayMs: 100, maxDelayMs: 1_000 } });
  worker = muscle(w, { providers: { ssh: provider }, onEvent: (e) => process.env.DEBUG_MUSCLE && console.log(JSON.stringify(e)) });
  soul = new EvaluationWorker(w.store, w.content, evaluationModel(w.lm, path.join(w.scratch, "adapters")), { bounds, ackWaitMs: 10_000 });
  await Promise.all([worker.start(), soul.start()]);
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  await soul?.stop();
  await sshd?.stop();
  await w?.close();
});

const request = async (jobId: string, recipe = tinyRecipe) => {
  const data = requestTraining(await projectAt(w.store, ledgers, "now"), await projectAt(w.store, lineage, "now"), {
    jobId, host: "loopback", recipe, baseModelSha256: w.lm.identity.sha256, atSeq: await w.store.lastSeq(), deadlineMs: 120_000, requestedBy: "test",
  });
  await w.store.append([{ event: { type: "TrainingRequested", data }, metadata: { id: `request-${jobId}`, time: new Date().toISOString(), actor: "soul", causationId: null, correlationId: jobId } }]);
  return data;
};

const verdict = (jobId: string) =>
  waitFor(async () => (await jobEvents(w, jobId)).find((e) => e.type === "AdapterPromoted" || e.type === "AdapterRolledBack" || e.type === "TrainingFailed"), 150_000, `the verdict on ${jobId}`).catch(async (e: unknown) => {
    throw new Error(`${String(e)}; the job's events: ${JSON.stringify((await jobEvents(w, jobId)).map((x) => [x.type, x.type === "TrainingFailed" ? x.data : ""]))}`);
  });

const candidateLine = (e: EventData<"AdapterEvaluated">) =>
  (e.candidates ?? []).map((c) => `${c.method}${c.params.lambda !== undefined ? `(${c.params.lambda})` : ""} r${c.rank} gain ${(c.gain * 100).toFixed(1)}% forgetting ${(c.forgetting * 100).toFixed(1)}%${c.withinBounds ? " ok" : ""}`).join(", ");

const one = async <T extends string>(jobId: string, type: T) => {
  const found = (await jobEvents(w, jobId)).filter((e) => e.type === type);
  expect(found, type).toHaveLength(1);
  return found[0]!.data as EventData<T & Parameters<typeof Object>[0]>;
};

describe("the whole loop on the tiny models over a real sshd", () => {
  it("serves the project's tiny LM laid out with one attention head, which scores exactly as the original", async () => {
    const original = await Effect.runPromise(openLanguageModel({ modelPath: tinyBase().original, threads: 1, probe: false, contextSize: 512 }));
    try {
      const texts = corpusLines("heldout", "cooking").slice(0, 3);
      const [a, b] = await Promise.all([Effect.runPromise(original.perplexity(texts)), Effect.runPromise(w.lm.perplexity(texts))]);
      a.forEach((r, i) => expect(b[i]!.meanNll).toBeCloseTo(r.meanNll, 4));
    } finally {
      await original.dispose();
    }
  });

  it("trains on the ledgers, verifies the artifacts, and promotes an adapter that learned without forgetting", async () => {
    const asked = await request("job-good");
    await verdict("job-good");
    const events = await jobEvents(w, "job-good");
    const types = events.map((e) => e.type);
    expect(types.filter((t) => t !== "TrainingProgressed")).toEqual([
      "TrainingRequested", "HostProvisioned", "DatasetUploaded", "TrainingStarted", "AdapterTrained", "HostReleased", "AdapterEvaluated", "AdapterPromoted",
    ]);
    const progress = events.filter((e) => e.type === "TrainingProgressed").map((e) => e.data as EventData<"TrainingProgressed">);
    expect(progress.length).toBeGreaterThanOrEqual(2);
    // Steps scale with the data: two passes over the SFT rows beside the replayed anchor.
    const sftSteps = plannedSteps(tinyRecipe, { sft: asked.ledger.sft.length, anchor: asked.ledger.anchor.length, pref: 0 }).sft;
    expect(sftSteps).toBe(Math.ceil((tinyRecipe.epochs! * asked.ledger.sft.length) / (tinyRecipe.batch * (1 - tinyRecipe.anchorRatio))));
    expect(progress.at(-1)).toMatchObject({ phase: "sft", step: sftSteps, of: sftSteps });
    const uploaded = (await one("job-good", "DatasetUploaded")) as EventData<"DatasetUploaded">;
    // Only the replay part of the Golden Anchor is uploaded: its evaluation part never leaves for training.
    expect(uploaded.rows).toEqual({ sft: asked.ledger.sft.length, anchor: asked.ledger.anchor.length, dpo: 0, negatives: 0, dpoEval: 0 });
    expect(asked.ledger.anchor.length + asked.ledger.anchorEval!.length).toBe(9);
    expect(uploaded.files.map((f) => f.name)).toEqual(expect.arrayContaining(["base.gguf", "sft.jsonl", "anchor.jsonl", "recipe.json"]));
    const trained = (await one("job-good", "AdapterTrained")) as EventData<"AdapterTrained">;
    // Nothing served yet: the micro-adapter alone, and its copies scaled by the recipe's task-arithmetic lambdas.
    expect(trained.merge).toMatchObject({ method: "none", reconstructionError: 0 });
    expect(trained.candidates!.map((c) => [c.method, c.params])).toEqual([["single", {}], ...(tinyRecipe.candidates!.taskLambdas ?? []).map((lambda) => ["task-arithmetic", { lambda }])]);
    expect(await w.content.has(trained.adapterSha256)).toBe(true);
    const evaluated = (await one("job-good", "AdapterEvaluated")) as EventData<"AdapterEvaluated">;
    const drop = 1 - evaluated.trained.after / evaluated.trained.before;
    console.log(`job-good: trained-data perplexity ${evaluated.trained.before.toFixed(2)} -> ${evaluated.trained.after.toFixed(2)} (-${(drop * 100).toFixed(1)}%), held-out ${evaluated.heldOut.before.toFixed(2)} -> ${evaluated.heldOut.after.toFixed(2)} (gain ${(evaluated.gain * 100).toFixed(1)}%), anchor ${evaluated.anchor.before.toFixed(2)} -> ${evaluated.anchor.after.toFixed(2)} (forgetting ${(evaluated.forgetting * 100).toFixed(1)}%)`);
    // Two passes over 12 rows are 8 steps: measured 10.90 -> 10.19 (-6.5%), held-out gain 2.4%, anchor -0.2%.
    expect(drop).toBeGreaterThan(0.03);
    expect(evaluated.gain).toBeGreaterThan(0);
    expect(evaluated.forgetting).toBeLessThanOrEqual(bounds.maxForgetting);
    expect(evaluated).toMatchObject({ withinBounds: true, baselineSha256: null, bounds });
    expect(soul.serving()).toBe(evaluated.chosen!.sha256);
    expect(await one("job-good", "HostReleased")).toMatchObject({ host: "loopback", cleaned: true });
  }, 180_000);

  it("trains the next job on top of what serves, on more of the domain, and promotes the candidate evaluation chose", async () => {
    const first = (await projectAt(w.store, lineage, "now")).serving!;
    const firstTrained = (await one("job-good", "AdapterTrained")) as EventData<"AdapterTrained">;
    await seedLedgers(w, 24, 16);
    const asked = await request("job-next");
    expect(asked.servingSha256).toBe(first.sha256);
    const end = await verdict("job-next");
    const trained = (await one("job-next", "AdapterTrained")) as EventData<"AdapterTrained">;
    const evaluated = (await one("job-next", "AdapterEvaluated")) as EventData<"AdapterEvaluated">;
    console.log(`job-next: SFT loss starts at ${trained.before.sftLoss?.toFixed(3)} (the first job's started at ${firstTrained.before.sftLoss?.toFixed(3)}, ended at ${firstTrained.after.sftLoss?.toFixed(3)}) and ends at ${trained.after.sftLoss?.toFixed(3)}; held-out ${evaluated.heldOut.before.toFixed(2)} -> ${evaluated.heldOut.after.toFixed(2)} (gain ${(evaluated.gain * 100).toFixed(1)}%), anchor forgetting ${(evaluated.forgetting * 100).toFixed(1)}%, probe rise ${((evaluated.probe?.rise ?? 0) * 100).toFixed(1)}%; chosen ${evaluated.chosen?.method}; candidates ${candidateLine(evaluated)}`);
    // It starts where the served model is, not from the base: below where the first job started.
    expect(trained.before.sftLoss!).toBeLessThan(firstTrained.before.sftLoss! - 0.1);
    expect(evaluated.baselineSha256).toBe(first.sha256);
    expect(evaluated.candidates!.length).toBeGreaterThanOrEqual(4);
    expect(end.type).toBe("AdapterPromoted");
    expect(evaluated.gain).toBeGreaterThan(0);
    expect(evaluated.chosen!.sha256).toBe(evaluated.adapterSha256);
    expect(end.data).toMatchObject({ adapterSha256: evaluated.chosen!.sha256, previousSha256: first.sha256 });
    expect(soul.serving()).toBe(evaluated.chosen!.sha256);
  }, 180_000);

  it("rolls back a harmful adapter (lr 5) trained on top of the promoted one, whatever the candidate, and the previous adapter keeps serving", async () => {
    const good = (await projectAt(w.store, lineage, "now")).serving!;
    const asked = await request("job-harmful", { ...tinyRecipe, lr: 5 });
    expect(asked).toMatchObject({ mergeWith: [], servingSha256: good.sha256 });
    const end = await verdict("job-harmful");
    expect(end.type).toBe("AdapterRolledBack");
    const trained = (await one("job-harmful", "AdapterTrained")) as EventData<"AdapterTrained">;
    expect(trained.candidates!.map((c) => c.method)).toEqual(["stack", "task-arithmetic", "task-arithmetic", "ties", "dare"]);
    expect(trained.merge).toMatchObject({ method: "stack", reconstructionError: 0 });
    const evaluated = (await one("job-harmful", "AdapterEvaluated")) as EventData<"AdapterEvaluated">;
    console.log(`job-harmful: held-out ${evaluated.heldOut.before.toFixed(2)} -> ${evaluated.heldOut.after.toFixed(2)} (gain ${(evaluated.gain * 100).toFixed(1)}%), anchor ${evaluated.anchor.before.toFixed(2)} -> ${evaluated.anchor.after.toFixed(2)} (forgetting ${(evaluated.forgetting * 100).toFixed(1)}%); candidates ${candidateLine(evaluated)}; reason: ${(end.data as EventData<"AdapterRolledBack">).reason}`);
    expect(evaluated.candidates).toHaveLength(5);
    expect(evaluated.candidates!.every((c) => !c.withinBounds)).toBe(true);
    expect(evaluated).toMatchObject({ withinBounds: false, baselineSha256: good.sha256 });
    expect(evaluated.forgetting).toBeGreaterThan(bounds.maxForgetting);
    expect(end.data).toMatchObject({ servingSha256: good.sha256 });
    expect(soul.serving()).toBe(good.sha256);
    expect((await projectAt(w.store, lineage, "now")).serving?.sha256).toBe(good.sha256);
  }, 180_000);

  it("rolls back a finite adapter trained without the anchor (lr 0.3, anchor ratio 0) that forgets it beyond the bound", async () => {
    const good = (await projectAt(w.store, lineage, "now")).serving!;
    await request("job-forgetful", { ...tinyRecipe, lr: 0.3, anchorRatio: 0 });
    const end = await verdict("job-forgetful");
    expect(end.type).toBe("AdapterRolledBack");
    const evaluated = (await one("job-forgetful", "AdapterEvaluated")) as EventData<"AdapterEvaluated">;
    console.log(`job-forgetful: held-out ${evaluated.heldOut.before.toFixed(2)} -> ${evaluated.heldOut.after.toFixed(2)}, anchor ${evaluated.anchor.before.toFixed(2)} -> ${evaluated.anchor.after.toFixed(2)} (forgetting ${(evaluated.forgetting * 100).toFixed(1)}%)`);
    expect(Number.isFinite(evaluated.anchor.after) && evaluated.anchor.after < Number.MAX_VALUE).toBe(true);
    expect(evaluated.forgetting).toBeGreaterThan(bounds.maxForgetting);
    expect(soul.serving()).toBe(good.sha256);
  }, 180_000);
});
