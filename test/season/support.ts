// A season's driver, shared by the seasons on the tiny models and on the default English models: twelve
// nights on a test clock (a day passes per night), the domain's texts growing each day, through the
// real actors on a real nats-server (the Soul and its training rule, the Muscle with the local
// provider running the real trainer, the Soul's evaluation choosing among candidates with the
// general probe set). Inputs are accepted as Salience would; one job with a harmful recipe is asked
// for mid-season. Each job's verdict becomes a row of the season's table.
import path from "node:path";
import { ActorHost } from "../../actors/host.ts";
import { requestTraining } from "../../actors/muscle/request.ts";
import type { MuscleWorker } from "../../actors/muscle/worker.ts";
import { defaultPolicy } from "../../actors/salience/salience.policy.ts";
import { EvaluationWorker } from "../../actors/soul/evaluation.worker.ts";
import { soulDecider } from "../../actors/soul/soul.decider.ts";
import { trainingDecider } from "../../actors/soul/training.decider.ts";
import type { EvaluationBounds, Recipe } from "../../events/training.ts";
import type { DomainEvent, EventData } from "../../events/catalogue.ts";
import type { Recorded } from "../../events/envelope.ts";
import { addAnchors } from "../../adapters/ingest/anchor.ts";
import { ingestFiles } from "../../adapters/ingest/ingest.ts";
import { LocalProvider } from "../../adapters/local/provider.ts";
import { evaluationModel } from "../../adapters/training/evaluation-model.ts";
import { loadProbe } from "../../adapters/training/probe.ts";
import { ledgers } from "../../projections/ledgers.projection.ts";
import { lineage } from "../../projections/lineage.projection.ts";
import { projectAt } from "../../projections/runner.ts";
import { collect } from "../support/events.ts";
import { muscle, startWorld, waitFor, type World } from "../actors/muscle/support.ts";

const DAY = 24 * 3600_000;

export interface SeasonSetup {
  /** The GGUF served and trained (default: the tiny LM laid out for the trainer). */
  readonly lmPath?: string;
  readonly nights: number;
  /** The domain's texts of night n (0-based). */
  readonly texts: (n: number) => readonly string[];
  /** The Golden Anchor's texts, added before the first night. */
  readonly anchors: readonly string[];
  readonly recipe: Recipe;
  readonly bounds: EvaluationBounds;
  /** The night after which a person asks for a job with the recipe at this learning rate. */
  readonly harmful?: { readonly afterNight: number; readonly lr: number };
  readonly minNewSft: number;
}

export interface SeasonRow {
  readonly night: string; readonly rule: string; readonly jobId: string; readonly candidates: string; readonly chosen: string;
  readonly verdict: string; readonly gain: number; readonly forgetting: number; readonly probeVsBase: number; readonly heldOut: string;
  /** General-English rows replayed in the job, and the probe's unknown share. */
  readonly generalRows: number; readonly unknownShare: number | null;
  readonly end: Recorded<DomainEvent> | undefined; readonly servingBefore: string | null; readonly servingAfter: string | null;
}

/** A ratio as a percentage, or "diverged" for one that ran off (±∞, NaN, 100× or more). */
export const pct = (x: number) => (Number.isFinite(x) && Math.abs(x) < 100 ? `${(x * 100).toFixed(1)}%` : "diverged");
const ppl = (x: number) => (x < 1e6 ? x.toFixed(2) : "diverged");

/** The season's table as the README shows it. */
export const seasonTable = (rows: readonly SeasonRow[]): string => [
  "| night | rule fired | candidates (held-out gain) | chosen | verdict | held-out ppl (serving -> chosen) | gain | anchor forgetting | probe vs base |",
  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ...rows.map((r) => r.jobId === "-" ? `| ${r.night} | - | | | | | | | |` : `| ${r.night} | ${r.rule} | ${r.candidates} | ${r.chosen} | ${r.verdict} | ${r.heldOut} | ${pct(r.gain)} | ${pct(r.forgetting)} | ${pct(r.probeVsBase)} |`),
].join("\n");

/** Runs the season; returns a row per night (and one for the harmful job) and the seconds it took. */
export const runSeason = async (s: SeasonSetup): Promise<{ rows: SeasonRow[]; seconds: number }> => {
  let offset = 0;
  const clock = () => new Date(Date.now() + offset);
  const w: World = await startWorld(s.lmPath ? { lmPath: s.lmPath } : {});
  const probe = loadProbe(w.lmPath);
  const settings = { minNewSft: s.minNewSft, minNewPairs: 1_000, maxJobsPerDay: 1, host: null, recipe: s.recipe, jobMinutes: 60, baseModelSha256: w.lm.identity.sha256 };
  const soul = new ActorHost(w.store, soulDecider, { clock });
  const rule = new ActorHost(w.store, trainingDecider(settings), { durable: "actor-soul-training", clock });
  const worker: MuscleWorker = muscle(w, { providers: { local: new LocalProvider(path.join(w.scratch, "local-host")) } });
  const evaluation = new EvaluationWorker(w.store, w.content, evaluationModel(w.lm, path.join(w.scratch, "adapters")), { bounds: s.bounds, probe, clock, ackWaitMs: 30_000 });
  try {
    await Promise.all([soul.start(), rule.start(), worker.start(), evaluation.start()]);
    await addAnchors({ store: w.store, content: w.content, known: new Set() }, "anchor.txt", Buffer.from(s.anchors.join("\n\n")), "season");
    const all = () => collect(w.store.read());
    const ofJob = async (jobId: string) => (await all()).filter((e) => (e.data as { jobId?: string }).jobId === jobId);
    const verdict = (jobId: string) =>
      waitFor(async () => (await ofJob(jobId)).find((e) => e.type === "AdapterPromoted" || e.type === "AdapterRolledBack" || e.type === "TrainingFailed"), 900_000, `the verdict on ${jobId}`);

    const night = async (n: number): Promise<Recorded<DomainEvent>> => {
      offset += DAY;
      const day = clock().toISOString().slice(0, 10);
      await ingestFiles({ store: w.store, content: w.content }, [{ path: `domain-${day}.txt`, bytes: Buffer.from(s.texts(n).join("\n\n")) }], { day, maxBytes: 64_000, correlationId: day });
      await soul.command({ id: `start-${day}`, actor: "schedule", command: { type: "StartNight", day, trigger: "schedule" } } as never as Parameters<typeof soul.command>[0]);
      const accepted = new Set((await collect(w.store.read({ types: new Set(["InputAccepted"]) }))).map((e) => (e.data as { inputId: string }).inputId));
      const fresh = (await collect(w.store.read({ types: new Set(["InputReceived"]) }))).filter((e) => !accepted.has((e.data as { inputId: string }).inputId));
      const models = { model: w.lm.identity.sha256, adapter: null, embedder: "none" };
      await w.store.append(fresh.map((e, i) => ({
        event: { type: "InputAccepted" as const, data: { inputId: (e.data as { inputId: string }).inputId, nightId: day, reason: "accepted for the season test", policy: defaultPolicy, models, nearest: "preoccupation", similarity: 0.9, surprise: 1, questionVector: [1, 0] } },
        metadata: { id: `accept-${day}-${i}`, time: clock().toISOString(), actor: "salience", causationId: e.metadata.id, correlationId: day },
      })));
      const done = await waitFor(async () => (await all()).find((e) => e.type === "NightCompleted" && e.data.nightId === day), 60_000, `night ${day}`);
      // The rule has decided once its host has folded the night's completion.
      await waitFor(async () => (rule.position() >= done.seq ? true : undefined), 60_000, `the rule on ${day}`);
      return done;
    };

    const rows: SeasonRow[] = [];
    let baseProbe: number | undefined;
    const record = async (nightId: string, ruleName: string, jobId: string, servingBefore: string | null) => {
      const end = await verdict(jobId);
      const events = await ofJob(jobId);
      const evaluated = events.find((e) => e.type === "AdapterEvaluated")?.data as EventData<"AdapterEvaluated"> | undefined;
      if (!evaluated) throw new Error(`${jobId}: ${end.type} ${JSON.stringify(end.data)}`);
      const uploaded = events.find((e) => e.type === "DatasetUploaded")?.data as EventData<"DatasetUploaded"> | undefined;
      baseProbe ??= evaluated.probe!.before; // the first job is measured against the base model
      rows.push({
        night: nightId, rule: ruleName, jobId,
        candidates: (evaluated.candidates ?? []).map((c) => `${c.method}${c.params.lambda !== undefined ? `(${c.params.lambda})` : ""} ${pct(c.gain)}`).join(", "),
        chosen: evaluated.chosen?.method ?? "-", verdict: end.type === "AdapterPromoted" ? "promoted" : "rolled back",
        gain: evaluated.gain, forgetting: evaluated.forgetting, probeVsBase: evaluated.probe!.after / baseProbe - 1,
        heldOut: `${ppl(evaluated.heldOut.before)} -> ${ppl(evaluated.heldOut.after)}`,
        generalRows: uploaded?.generalReplay?.rows ?? 0, unknownShare: evaluated.probe?.unknownShare ?? null,
        end, servingBefore, servingAfter: evaluation.serving(),
      });
    };
    const started = Date.now();
    for (let n = 0; n < s.nights; n++) {
      const serving = (await projectAt(w.store, lineage, "now")).serving?.sha256 ?? null;
      const done = await night(n);
      const nightId = (done.data as { nightId: string }).nightId;
      const asked = (await all()).find((e) => e.type === "TrainingRequested" && e.data.rule?.nightId === nightId);
      if (asked?.type === "TrainingRequested") await record(nightId, asked.data.rule!.name, asked.data.jobId, serving);
      else rows.push({ night: nightId, rule: "-", jobId: "-", candidates: "", chosen: "-", verdict: "-", gain: 0, forgetting: 0, probeVsBase: 0, heldOut: "", generalRows: 0, unknownShare: null, end: undefined, servingBefore: serving, servingAfter: serving });
      if (s.harmful && n === s.harmful.afterNight) {
        // Mid-season, someone asks for a job with a harmful recipe: it must roll back, the previous adapter serving on.
        const before = (await projectAt(w.store, lineage, "now")).serving?.sha256 ?? null;
        const data = requestTraining(await projectAt(w.store, ledgers, "now"), await projectAt(w.store, lineage, "now"), {
          jobId: "season-harmful", host: null, recipe: { ...s.recipe, lr: s.harmful.lr }, baseModelSha256: w.lm.identity.sha256, atSeq: await w.store.lastSeq(), deadlineMs: 3_600_000, requestedBy: "season-test",
        });
        await w.store.append([{ event: { type: "TrainingRequested", data }, metadata: { id: "request-season-harmful", time: clock().toISOString(), actor: "cli", causationId: null, correlationId: "season-harmful" } }]);
        await record(`${nightId} (harmful, lr ${s.harmful.lr})`, "asked by a person", "season-harmful", before);
      }
    }
    return { rows, seconds: (Date.now() - started) / 1000 };
  } finally {
    await evaluation.stop();
    await worker.stop();
    await rule.stop();
    await soul.stop();
    await w.close();
  }
};
