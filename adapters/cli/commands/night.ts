import { StartNight } from "../../../events/commands.ts";
import { dayProblem } from "../../../events/day.ts";
import { NoResponderError, sendCommand } from "../../nats/commands.ts";
import { defineCommand } from "../command.ts";
import { antechamberSettings } from "./antechamber-settings.ts";
import { progress, UsageError } from "../format.ts";
import { openRuntime, type Runtime } from "../runtime.ts";
import { newCommandId, startActors, today } from "../actors.ts";
import { openModels } from "../models.ts";
import { projectAt } from "../../../projections/runner.ts";
import { nightSummaries, type NightSummary } from "../../../projections/night-summaries.projection.ts";
import { centroids } from "../../../projections/centroids.projection.ts";
import { deadlineFor } from "../night-window.ts";

/**
 * Runs a read again while it fails for up to two minutes: on a cluster a read that lands during a
 * leader election (a node killed) times out once or twice before the new leader answers.
 */
const readThroughElections = async <T>(read: () => Promise<T>): Promise<T> => {
  const since = Date.now();
  for (;;) {
    try {
      return await read();
    } catch (e) {
      if (Date.now() - since > 120_000) throw e;
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
};

/** Follows the log until the night completes, the signal aborts, or `stalled` says nothing more will come. */
export const waitForNight = async (rt: Runtime, nightId: string, signal: AbortSignal, stalled: () => boolean): Promise<NightSummary | undefined> => {
  while (!signal.aborted) {
    const night = (await readThroughElections(() => projectAt(rt.store, nightSummaries, "now")))[nightId];
    if (night?.completedSeq || stalled()) return night;
    await new Promise((r) => setTimeout(r, 250));
  }
  return undefined;
};

export const night = defineCommand({
  path: ["night"],
  summary: "start the night of a day, or resume it where it stopped: every input received so far is judged",
  usage: "sophont night [--day YYYY-MM-DD] [--json]",
  details: [
    "Sends StartNight to the Soul of a running `sophont up`; without one, runs the Soul and Salience in",
    "this process (loading the model: SOPHONT_MODEL, or the project's English models) until the night is",
    "done. The day defaults to today (local time). Seed the domain's questions first:",
    "`sophont preoccupation seed FILE`. A night that stopped before its end (the process killed, the",
    "models failing) resumes with the same command, where it stopped: decided inputs are not judged",
    "again. It ends with the counts by cause; --json prints them as one JSON object on stdout.",
    "With night.deadline in config.json (or SOPHONT_NIGHT_DEADLINE), the night stops at that local time:",
    "what it did not decide waits for the next night, and it ends saying how many (exit 0).",
  ].join("\n"),
  options: { day: { type: "string" }, json: { type: "boolean" } },
  run: async (ctx, v): Promise<number> => {
    const day = (v.day as string | undefined) ?? today();
    const bad = dayProblem(day);
    if (bad) throw new UsageError(`--day takes a real date YYYY-MM-DD: ${bad}`);
    const json = v.json === true;
    // With --json, stdout carries only the JSON: the narration goes to stderr.
    const say = json ? ctx.err : ctx.out;
    const rt = await openRuntime(ctx.config, ctx.err);
    const deadlineAt = deadlineFor(ctx.config.night, new Date());
    const request = { id: newCommandId(), command: { type: "StartNight", day, trigger: "cli", ...(deadlineAt ? { deadlineAt } : {}) } };
    let local: Awaited<ReturnType<typeof startActors>> | undefined;
    let models: Awaited<ReturnType<typeof openModels>> | undefined;
    try {
      if (Object.keys(await projectAt(rt.store, centroids, "now")).length === 0) {
        ctx.err("warning: no Preoccupation Centroid yet, so every input will be off-topic; seed one with `sophont preoccupation seed FILE`");
      }
      const before = (await projectAt(rt.store, nightSummaries, "now"))[day];
      const open = before !== undefined && before.completedSeq === undefined;
      const resuming = () => say(`night ${day} was started earlier (event seq ${before!.startedSeq}) and did not finish: resuming it where it stopped`);
      let reply;
      try {
        reply = await sendCommand(rt.nc, StartNight, request, 5_000);
      } catch (e) {
        if (!(e instanceof NoResponderError)) throw e;
        ctx.err("no `sophont up` is running: running the Soul and Salience in this process");
        models = await openModels(ctx.config, ctx.err);
        ctx.err(`model: ${models.description}`);
        const bar = progress(`night ${day}`);
        let failed: string | undefined;
        local = await startActors(rt, {
          models,
          home: ctx.config.home,
          policy: ctx.config.policy,
          airlock: ctx.config.airlock,
          ...(ctx.config.judge ? { judge: ctx.config.judge } : {}),
          antechamber: antechamberSettings(ctx.config),
          onSalience: (e) => (e.type === "progress" ? bar.update(e.done, e.total) : e.type === "failed" ? (failed = e.error) : bar.done()),
        });
        ctx.err(`scoring with ${models.lm.activeAdapter ? `the serving adapter ${models.lm.activeAdapter.slice(0, 12)}` : "the base model (no adapter promoted)"}`);
        if (open) {
          resuming();
        } else {
          reply = await sendCommand(rt.nc, StartNight, request);
          if (!reply.ok) {
            ctx.err(`refused: ${reply.refusal}`);
            return 1;
          }
          say(`night ${day} started (event seq ${reply.events.map((e) => e.seq).join(", ")})`);
          // Run from the log too: the server may hold back the delivery behind a night left unacked.
          await local.salience?.resumeOpenNights();
        }
        const n = await waitForNight(rt, day, ctx.signal, () => failed !== undefined);
        if (failed && !n?.completedSeq) {
          ctx.err(`Salience stopped: ${failed}. The night stays open; run \`sophont night --day ${day}\` or \`sophont up\` to resume it.`);
          return 1;
        }
        return await report(say, ctx.out, json, day, n, open);
      }
      if (!reply.ok && open) {
        say(`night ${day} is open on the running Soul (event seq ${before!.startedSeq}); its Salience resumes it where it stopped: following it, Ctrl-C detaches`);
      } else if (!reply.ok) {
        ctx.err(`refused: ${reply.refusal}`);
        return 1;
      } else {
        say(`night ${day} started on the running Soul (event seq ${reply.events.map((e) => e.seq).join(", ")}); following it, Ctrl-C detaches`);
      }
      return await report(say, ctx.out, json, day, await waitForNight(rt, day, ctx.signal, () => false), open);
    } finally {
      await local?.stop();
      await models?.close();
      await rt.close();
    }
  },
});

/** What a night decided, by cause: the night-summaries projection's counts, no scan of the log. */
export interface NightCounts {
  readonly accepted: number;
  readonly rejected: number;
  readonly rejectedByCause: Record<string, number>;
  readonly shadow: number;
  readonly refused: number;
  /** Decided without a judgement: forgotten before it was scored, or its text missing. */
  readonly dropped: number;
}

export const countNight = (n: NightSummary): NightCounts => {
  const c = n.counts!;
  return { accepted: c.accepted, rejected: c.rejected, rejectedByCause: { ...n.rejectedByCause }, shadow: c.shadow, refused: c.refused, dropped: c.dropped ?? 0 };
};

const report = async (say: (s: string) => void, out: (s: string) => void, json: boolean, day: string, n: NightSummary | undefined, resumed: boolean): Promise<number> => {
  if (!n?.completedSeq) {
    if (json) out(JSON.stringify({ night: day, completed: false, resumed }));
    say(`night ${day} is still open (see \`sophont status\`)`);
    return 0;
  }
  const c = countNight(n);
  if (json) {
    out(JSON.stringify({ night: day, completed: true, resumed, completedSeq: n.completedSeq, durationMs: n.durationMs, counts: c, cutOff: n.cutOff ?? null }));
    return 0;
  }
  if (n.cutOff) say(`night ${day} reached its deadline ${n.cutOff.deadlineAt}: ${n.cutOff.left} input(s) left undecided wait for the next night`);
  const causes = Object.entries(c.rejectedByCause).sort((a, b) => b[1] - a[1]).map(([cause, k]) => `${k} ${cause}`);
  say(`night ${day} completed in ${(n.durationMs! / 1000).toFixed(1)} s: ${c.accepted} accepted (SFT Ledger), ${c.rejected} rejected${causes.length ? ` (${causes.join(", ")})` : ""}, ${c.shadow} to the Shadow Ledger, ${c.refused} refused at ingest${c.dropped ? `, ${c.dropped} dropped (forgotten or text missing)` : ""}`);
  return 0;
};
