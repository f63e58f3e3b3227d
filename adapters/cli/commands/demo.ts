import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { defineCommand, type CliContext } from "../command.ts";
import { percent, progress, readable, UsageError } from "../format.ts";
import { openRuntime, type Runtime } from "../runtime.ts";
import { openModels } from "../models.ts";
import { startActors } from "../actors.ts";
import { antechamberSettings } from "./antechamber-settings.ts";
import { waitForNight } from "./night.ts";
import { demoAnchors, demoDays, DEMO_QUESTIONS } from "../demo/scenario.ts";
import { policyFrom, type Config } from "../config.ts";
import { ingestFiles } from "../../ingest/ingest.ts";
import { seedPreoccupation } from "../../ingest/preoccupation.ts";
import { addAnchors } from "../../ingest/anchor.ts";
import { ObjectContentStore } from "../../nats/content-store.ts";
import { collectReport } from "../../report/collect.ts";
import { renderReport } from "../../report/render.ts";
import { projectAt } from "../../../projections/runner.ts";
import type { DomainEvent } from "../../../events/catalogue.ts";

/**
 * The tiny LM never saw the new field's words, so its fallback would call them incoherent; the demo
 * widens the coherence fallback so they reach the Antechamber (a real model reads them as English).
 * The policy is recorded in every decision like any other.
 */
const DEMO_POLICY = { acceptSimilarity: 0.35, minSurprise: -3, incoherentSurprise: 12, uniformFraction: 1.5, calibrated: false, version: "demo-new-field" };

const countTypes = async (rt: Runtime, types: string[]) => {
  const n: Record<string, number> = Object.fromEntries(types.map((t) => [t, 0]));
  for await (const e of rt.store.read({ types: new Set(types) })) n[e.type] = (n[e.type] ?? 0) + 1;
  return n;
};

const waitForClustering = async (rt: Runtime, nightId: string, afterSeq: number): Promise<Extract<DomainEvent, { type: "AntechamberClustered" }>["data"] | undefined> => {
  for (let i = 0; i < 60; i++) {
    for await (const e of rt.store.read({ from: { seq: afterSeq }, types: new Set(["AntechamberClustered"]) })) {
      if (e.type === "AntechamberClustered" && e.data.nightId === nightId) return e.data;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return undefined;
};

export const demo = defineCommand({
  path: ["demo"],
  summary: "see the whole machine work: simulated days, nights, a new field born, training, a promotion and a rollback",
  usage: "sophont demo [--nights N] [--keep] [--no-train] [--json]",
  details: [
    "Runs on the embedded default (its own nats-server, the project's default English models) in $SOPHONT_HOME/demo,",
    "starting clean unless --keep. Each simulated day brings astronomy notes (the domain), a few scattered",
    "off-topic lines, noise and, from day 2, beekeeping: a new field that keeps arriving until Mitosis makes it",
    "a satellite. Then the Muscle trains an adapter on the local provider (the same trainer and job protocol",
    "as on a GPU host): it is evaluated and promoted; a second job with a harmful recipe is rolled back.",
    "It ends with a summary read from the events and an HTML report.",
  ].join("\n"),
  options: { nights: { type: "string" }, keep: { type: "boolean" }, "no-train": { type: "boolean" }, json: { type: "boolean" } },
  traceHome: (home) => join(home, "demo"),
  run: async (ctx, v): Promise<number> => {
    const nights = Number(v.nights ?? 6);
    if (!Number.isInteger(nights) || nights < 1 || nights > 14) throw new UsageError("--nights takes 1 to 14");
    const home = join(ctx.config.home, "demo");
    if (!v.keep) rmSync(home, { recursive: true, force: true });
    mkdirSync(join(home, "inbox"), { recursive: true });
    const config: Config = { ...ctx.config, home, natsUrl: undefined, modelPath: undefined, embedderPath: undefined, policy: policyFrom(DEMO_POLICY) };
    return runDemo(ctx, config, nights, v["no-train"] !== true, v.json === true);
  },
});

const runDemo = async (ctx: CliContext, config: Config, nights: number, train: boolean, json: boolean): Promise<number> => {
  // With --json, stdout carries only the summary object: the narration goes to stderr.
  const say = json ? ctx.err : ctx.out;
  say(`Sophont demo in ${config.home} (${nights} simulated days)`);
  const rt = await openRuntime(config, (s) => say(`  ${s}`));
  const models = await openModels(config, (s) => say(`  ${s}`));
  let bar = progress("  judging");
  const actors = await startActors(rt, {
    models,
    policy: config.policy,
    airlock: config.airlock,
    ...(config.judge ? { judge: config.judge } : {}),
    antechamber: antechamberSettings(config),
    onSalience: (e) => (e.type === "progress" ? bar.update(e.done, e.total) : bar.done()),
  });
  const content = new ObjectContentStore(rt.nc);
  try {
    await seedPreoccupation(rt.store, models.salience, DEMO_QUESTIONS, randomUUID());
    const anchors = await addAnchors({ store: rt.store, content, known: new Set() }, "golden-anchor.txt", Buffer.from(demoAnchors()), randomUUID());
    say(`  the domain: ${DEMO_QUESTIONS.length} questions an astronomer asks; ${anchors.added} texts in the Golden Anchor`);
    for (const day of demoDays(nights)) {
      if (ctx.signal.aborted) return 130;
      const files = day.files.map((f) => {
        writeFileSync(join(config.home, "inbox", f.name), f.text);
        return { path: `inbox/${f.name}`, bytes: Buffer.from(f.text) };
      });
      await ingestFiles({ store: rt.store, content }, files, { day: day.day, maxBytes: 64 * 1024, correlationId: randomUUID() });
      say(`\nday ${day.day}: ${day.story}`);
      const before = await rt.store.lastSeq();
      bar = progress("  judging");
      await actors.soul.command({ id: randomUUID(), actor: "demo", command: { type: "StartNight", day: day.day, trigger: "cli" } });
      const night = await waitForNight(rt, day.day, ctx.signal, () => false);
      if (!night?.completedSeq) return 130;
      const c = night.counts!;
      say(`  night: ${c.accepted} accepted, ${c.rejected} rejected, ${c.shadow} to the Shadow Ledger, ${c.refused} refused`);
      const clustering = await waitForClustering(rt, day.day, before);
      if (clustering) {
        const shown = clustering.clusters.map((k) => `${k.clusterId} (${k.size} questions, ${k.age} night${k.age > 1 ? "s" : ""} old)`).join(", ");
        say(`  Antechamber: ${clustering.points} questions, ${clustering.noise} noise${shown ? `; clusters: ${shown}` : ""}`);
      }
      await new Promise((r) => setTimeout(r, 500));
      for await (const e of rt.store.read({ from: { seq: before }, types: new Set(["MitosisProposed", "SatelliteBorn", "DriftDetected"]) })) {
        if (e.type === "MitosisProposed") say(`  Mitosis proposed: ${e.data.clusterId} lived ${e.data.age} nights with ${e.data.size} questions (nearest centroid at ${e.data.nearest.similarity.toFixed(2)})`);
        if (e.type === "SatelliteBorn") say(`  ★ a field is born: satellite ${e.data.satelliteId}, from ${e.data.members} questions`);
        if (e.type === "DriftDetected") say(`  drift: ${e.data.centroidId} moved ${e.data.fromPrevious.toFixed(4)} since the last night`);
      }
    }
    const { torchAvailable, TORCH_HINT } = await import("../demo/training.ts");
    if (train && !torchAvailable()) say(`\n${TORCH_HINT}`);
    else if (train) await trainTwice(rt, models, config, say);
    return await summary(rt, config.home, say, json ? ctx.out : undefined);
  } finally {
    await actors.stop();
    await models.close();
    await rt.close();
  }
};

const trainTwice = async (rt: Runtime, models: Awaited<ReturnType<typeof openModels>>, config: Config, say: (s: string) => void) => {
  const trainer = await (await import("../demo/training.ts")).demoTrainer(rt, models, config.home, config.training.bounds, say);
  try {
    for (const [jobId, recipe, what] of [["demo-job-1", config.training.recipe, "the SFT Ledger, the Golden Anchor mixed in"], ["demo-job-2", trainer.harmfulRecipe, "a harmful recipe (learning rate 5)"]] as const) {
      say(`\ntraining ${jobId} on ${what}, on the local provider`);
      const verdict = await trainer.train(jobId, recipe);
      const evaluated = await (async () => {
        for await (const e of rt.store.read({ types: new Set(["AdapterEvaluated"]) })) if (e.type === "AdapterEvaluated" && e.data.jobId === jobId) return e.data;
        return undefined;
      })();
      if (evaluated) say(`  evaluated: held-out perplexity ${readable(evaluated.heldOut.before, 1)} -> ${readable(evaluated.heldOut.after, 1)} (gain ${percent(evaluated.gain)}), anchor forgetting ${percent(evaluated.forgetting)}${evaluated.probe ? `, general English probe ${readable(evaluated.probe.before, 1)} -> ${readable(evaluated.probe.after, 1)} (${percent(evaluated.probe.rise)} over the base)` : ""}`);
      say(verdict.type === "AdapterPromoted" ? `  PROMOTED: adapter ${verdict.data.adapterSha256.slice(0, 12)} serves from now on` : verdict.type === "AdapterRolledBack" ? `  ROLLED BACK: ${verdict.data.reason}` : `  training failed: ${verdict.data.error}`);
    }
  } finally {
    await trainer.stop();
  }
};

const summary = async (rt: Runtime, home: string, say: (s: string) => void, json?: (s: string) => void): Promise<number> => {
  const n = await countTypes(rt, ["NightCompleted", "InputAccepted", "InputRejected", "ShadowRecorded", "InputRefused", "SatelliteBorn", "AdapterPromoted", "AdapterRolledBack"]);
  const out = join(home, "report.html");
  writeFileSync(out, renderReport(await collectReport(rt.store, "now")));
  writeFileSync(join(home, "summary.json"), JSON.stringify(n, null, 2) + "\n");
  say(`\nsummary (read from the events): ${n.NightCompleted} nights; ${n.InputAccepted} inputs accepted, ${n.InputRejected} rejected, ${n.ShadowRecorded} shadow, ${n.InputRefused} refused; ${n.SatelliteBorn} mitosis; ${n.AdapterPromoted} promotion, ${n.AdapterRolledBack} rollback`);
  say(`report: ${out}`);
  const next = await lookNext(rt, home);
  say("\nlook next (each line runs as it is, from this checkout):");
  for (const l of next) say(`  ${l}`);
  json?.(JSON.stringify({ home, report: out, counts: n, lookNext: next }, null, 2));
  return 0;
};

/** A word the shell takes as it is, quoted only where it must be. */
const shellWord = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The commands to look at what the demo did, on its own home, with a real night and input of it. */
const lookNext = async (rt: Runtime, home: string): Promise<string[]> => {
  let night: string | undefined;
  let input: string | undefined;
  for await (const e of rt.store.read({ types: new Set(["NightCompleted", "InputAccepted"]) })) {
    if (e.type === "NightCompleted") night = e.data.nightId;
    if (e.type === "InputAccepted") input = e.data.inputId;
  }
  const env = `SOPHONT_HOME=${shellWord(home)} npx sophont`;
  return [
    `${env} events tail --last 10`,
    `${env} antechamber`,
    `${env} centroids`,
    `${env} drift`,
    `${env} adapters`,
    ...(night ? [`${env} trace ${night}`] : []),
    ...(input ? [`${env} audit input ${input.slice(0, 12)}`] : []),
    `${env} status`,
  ];
};
