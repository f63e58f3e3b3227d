// The season under `sophont up` (issue 13 point 6): the real `up` process on a test clock
// (SOPHONT_TEST_CLOCK, a simulated day in 36 s of wall time) with its own night schedule, Salience
// judging each day's inputs (dropped in with `sophont ingest` while up runs), the Soul deciding to
// train by itself, the local trainer on the default English models, the evaluation's gate with the
// probe bound at 2% over the base. Capped for CI in config.json (24 steps, three candidates), not in
// the product. The harmful job of the issue is the tiny season's (test/season/season.int.test.ts).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { EventData } from "../../events/catalogue.ts";
import { useTestLog } from "../support/nats.ts";
import { startSophont } from "../support/cli.ts";
import { waitFor } from "../actors/muscle/support.ts";
import { collect } from "../support/events.ts";
import { corpusLines } from "../adapters/llm/support.ts";
import { pct } from "./support.ts";

const home = mkdtempSync(join(tmpdir(), "sophont-up-season-"));
const log = useTestLog();
const NIGHTS = 12;
const PER_DAY = 6;
const RATE = 2400;
/** The night (0-based) after which a person asks for the harmful job. */
const HARMFUL_AFTER = 5;
const env = () => ({ ...process.env, TZ: "UTC", SOPHONT_HOME: home, SOPHONT_NATS_URL: log.nats.url, SOPHONT_NATS_USER: "soul", SOPHONT_NATS_PASSWORD: log.nats.secrets.soul, OTEL_SDK_DISABLED: "true" });

const start = (args: string[], extra: Record<string, string> = {}) => {
  const run = startSophont(args, { env: { ...env(), ...extra } });
  return { child: run.child, out: run.stdout, done: run.done };
};
const ofType = async <T extends string>(type: T) => collect(log.store.read({ types: new Set([type]) }));
const day = (n: number) => new Date(Date.UTC(2026, 11, 5 + n)).toISOString().slice(0, 10);

afterAll(() => rmSync(home, { recursive: true, force: true }));

describe("a season under sophont up", () => {
  it("twelve scheduled nights: Salience judges, the Soul trains by itself, each promotion gains within the probe bound", async () => {
    writeFileSync(join(home, "config.json"), JSON.stringify({
      night: { at: "22:00" },
      // a job may take a simulated week (a minute of wall time is 40 simulated hours)
      training: { minNewSft: 12, maxJobsPerDay: 1, jobMinutes: 7 * 24 * 60, host: "local", bounds: { maxProbeRise: 0.02 }, recipe: { maxSteps: 24, candidates: { methods: ["stack", "task-arithmetic", "ties"], taskLambdas: [0.5], maxRank: 16, maxCandidates: 3 } } },
    }));
    const questions = ["How do planets move in their orbits around a star?", "What can a telescope show of distant galaxies?", "Why does a comet brighten near the sun?", "How are the distances to stars measured?"];
    writeFileSync(join(home, "questions.txt"), questions.join("\n"));
    expect((await start(["preoccupation", "seed", join(home, "questions.txt")]).done).code).toBe(0);
    const anchors = ["cooking", "gardening", "medicine", "sailing"].flatMap((t) => corpusLines("heldout", t).slice(0, 4));
    writeFileSync(join(home, "anchor.txt"), anchors.join("\n\n"));
    expect((await start(["anchor", "add", join(home, "anchor.txt")]).done).code).toBe(0);
    const astronomy = corpusLines("heldout", "astronomy");
    const drop = async (n: number) => {
      writeFileSync(join(home, `day-${n}.log`), astronomy.slice(n * PER_DAY, (n + 1) * PER_DAY).join("\n"));
      const r = await start(["ingest", join(home, `day-${n}.log`), "--day", day(n)]).done;
      expect(r.code, r.err).toBe(0);
    };
    await drop(0);
    writeFileSync(join(home, "harmful.json"), JSON.stringify({ lr: 5 }));
    const clock = { SOPHONT_TEST_CLOCK: `${day(0)}T12:00:00Z,x${RATE},@${new Date().toISOString()}` };
    const up = start(["up"], clock);
    const began = Date.now();
    let harmful: ReturnType<typeof start> | undefined;
    let harmfulAfterSeq = 0;
    const verdicts = async () => [...(await ofType("AdapterPromoted")), ...(await ofType("AdapterRolledBack")), ...(await ofType("TrainingFailed"))];
    const allJudged = async () => ((await verdicts()).length >= (await ofType("TrainingRequested")).length ? true : undefined);
    try {
      for (let n = 0; n < NIGHTS; n++) {
        await waitFor(async () => (await ofType("NightCompleted")).find((e) => (e.data as { nightId: string }).nightId === day(n)), 240_000, `the night of ${day(n)}`);
        if (n === HARMFUL_AFTER) {
          // The Soul's jobs asked so far have ended (one for this night may still come, and run beside the person's).
          await waitFor(allJudged, 300_000, "the Soul's jobs so far to end");
          harmfulAfterSeq = await log.store.lastSeq();
          harmful = start(["train", "--local", "--recipe", join(home, "harmful.json"), "--deadline", String(7 * 24 * 60), "--json"], clock);
          await waitFor(async () => ((await ofType("TrainingRequested")).some((e) => e.seq > harmfulAfterSeq && (e.data as EventData<"TrainingRequested">).requestedBy === "cli") ? true : undefined), 120_000, "the person's job");
        }
        if (n + 1 < NIGHTS) await drop(n + 1); // the next day's inputs arrive while up runs
      }
      const harmfulEnd = await harmful!.done;
      expect(harmfulEnd.code, `sophont train with lr 5 is rolled back (exit 3)\n${harmfulEnd.err.slice(-2000)}`).toBe(3);
      // The last night's job, if one was asked for, ends too.
      await waitFor(allJudged, 300_000, "every job's verdict");
    } finally {
      up.child.kill("SIGINT");
      const end = await up.done;
      expect(end.code, end.err.slice(-2000)).toBe(0);
    }
    const requested = (await ofType("TrainingRequested")).map((e) => e.data as EventData<"TrainingRequested">);
    const evaluated = (await ofType("AdapterEvaluated")).map((e) => e.data as EventData<"AdapterEvaluated">);
    const promoted = new Set((await ofType("AdapterPromoted")).map((e) => (e.data as { jobId: string }).jobId));
    const accepted = (await ofType("InputAccepted")).length;
    const table = ["| job | night (rule) | chosen | verdict | gain | probe vs base |", "| --- | --- | --- | --- | --- | --- |", ...evaluated.map((v) => {
      const r = requested.find((q) => q.jobId === v.jobId);
      return `| ${v.jobId} | ${r?.rule?.nightId ?? "-"} (${r?.rule?.name ?? `${r?.requestedBy}, lr ${r?.recipe.lr}`}) | ${v.chosen?.method ?? "-"} | ${promoted.has(v.jobId) ? "promoted" : "rolled back"} | ${pct(v.gain)} | ${pct((v.probe?.after ?? NaN) / (v.probe?.base ?? v.probe?.before ?? NaN) - 1)} |`;
    })].join("\n");
    console.log(`${table}\n\nseason under up: ${NIGHTS} nights in ${((Date.now() - began) / 1000).toFixed(0)} s, ${accepted} inputs accepted by Salience, ${requested.length} jobs requested`);
    if (process.env.SOPHONT_SEASON_TABLE) writeFileSync(process.env.SOPHONT_SEASON_TABLE, table + "\n");

    expect(requested.filter((r) => r.requestedBy === "soul").length).toBeGreaterThanOrEqual(3);
    // The person's harmful job: rolled back with its numbers, and the adapter that served before serves on.
    const person = requested.find((r) => r.requestedBy === "cli")!;
    expect(person.recipe.lr).toBe(5);
    const rolledBack = (await ofType("AdapterRolledBack")).find((e) => (e.data as { jobId: string }).jobId === person.jobId);
    expect(rolledBack, "the harmful job is rolled back").toBeDefined();
    // What served when it was judged (a job of the Soul's may have run beside it and been promoted first).
    const promotedBefore = (await ofType("AdapterPromoted")).filter((e) => e.seq < rolledBack!.seq).at(-1);
    const servedBefore = (promotedBefore?.data as EventData<"AdapterPromoted"> | undefined)?.adapterSha256 ?? null;
    const rb = rolledBack!.data as EventData<"AdapterRolledBack">;
    expect(rb.servingSha256).toBe(servedBefore);
    expect(rb.reason).toMatch(/diverged|rose|above|below|more than/); // why, in words
    // ... and the numbers behind it, in the evaluation event: the candidates' measurements and the bounds.
    const harmfulEval = evaluated.find((v) => v.jobId === person.jobId)!;
    expect(harmfulEval.withinBounds).toBe(false);
    expect(harmfulEval.bounds.maxProbeRise).toBe(0.02);
    expect(Number.isFinite(harmfulEval.heldOut.before)).toBe(true);
    expect(harmfulEval.candidates?.length ?? 0).toBeGreaterThanOrEqual(1);
    console.log(`harmful job ${person.jobId} (lr 5, asked on night ${day(HARMFUL_AFTER)}): rolled back, "${rb.reason}"; gain ${pct(harmfulEval.gain)}, serving stays ${servedBefore?.slice(0, 12) ?? "the base"}`);
    const nextPromotion = (await ofType("AdapterPromoted")).find((e) => e.seq > rolledBack!.seq)?.seq ?? Infinity;
    const scoredBetween = (await ofType("InputScored")).filter((e) => e.seq > rolledBack!.seq && e.seq < nextPromotion);
    for (const e of scoredBetween) expect((e.data as EventData<"InputScored">).models.adapter, "inputs after the rollback are scored with what served before").toBe(servedBefore);
    for (const v of evaluated.filter((e) => promoted.has(e.jobId))) {
      expect(v.gain, `${v.jobId} lowers held-out perplexity against what served`).toBeGreaterThan(0);
      expect(v.probe!.after / (v.probe!.base ?? v.probe!.before) - 1, `${v.jobId}'s probe against the base`).toBeLessThanOrEqual(0.02);
    }
  }, 900_000);
});
