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

/** Follows the log until the night completes, the signal aborts, or `stalled` says nothing more will come. */
export const waitForNight = async (rt: Runtime, nightId: string, signal: AbortSignal, stalled: () => boolean): Promise<NightSummary | undefined> => {
  while (!signal.aborted) {
    const night = (await projectAt(rt.store, nightSummaries, "now"))[nightId];
    if (night?.completedSeq || stalled()) return night;
    await new Promise((r) => setTimeout(r, 250));
  }
  return undefined;
};

export const night = defineCommand({
  path: ["night"],
  summary: "start the night of a day: every input received so far is judged",
  usage: "sophont night [--day YYYY-MM-DD]",
  details: [
    "Sends StartNight to the Soul of a running `sophont up`; without one, runs the Soul and Salience in",
    "this process (loading the model: SOPHONT_MODEL, or the project's tiny models) until the night is",
    "done. The day defaults to today (local time). Seed the domain's questions first:",
    "`sophont preoccupation seed FILE`.",
  ].join("\n"),
  options: { day: { type: "string" } },
  run: async (ctx, v): Promise<number> => {
    const day = (v.day as string | undefined) ?? today();
    const bad = dayProblem(day);
    if (bad) throw new UsageError(`--day takes a real date YYYY-MM-DD: ${bad}`);
    const rt = await openRuntime(ctx.config, ctx.err);
    const request = { id: newCommandId(), command: { type: "StartNight", day, trigger: "cli" } };
    let local: Awaited<ReturnType<typeof startActors>> | undefined;
    let models: Awaited<ReturnType<typeof openModels>> | undefined;
    try {
      if (Object.keys(await projectAt(rt.store, centroids, "now")).length === 0) {
        ctx.err("warning: no Preoccupation Centroid yet, so every input will be off-topic; seed one with `sophont preoccupation seed FILE`");
      }
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
          policy: ctx.config.policy,
          antechamber: antechamberSettings(ctx.config),
          onSalience: (e) => (e.type === "progress" ? bar.update(e.done, e.total) : e.type === "failed" ? (failed = e.error) : bar.done()),
        });
        reply = await sendCommand(rt.nc, StartNight, request);
        if (!reply.ok) {
          ctx.err(`refused: ${reply.refusal}`);
          return 1;
        }
        ctx.out(`night ${day} started (event seq ${reply.events.map((e) => e.seq).join(", ")})`);
        const n = await waitForNight(rt, day, ctx.signal, () => failed !== undefined);
        if (failed) {
          ctx.err(`Salience stopped: ${failed}. The night stays open; run \`sophont night --day ${day}\` or \`sophont up\` to resume it.`);
          return 1;
        }
        return report(ctx.out, day, n);
      }
      if (!reply.ok) {
        ctx.err(`refused: ${reply.refusal}`);
        return 1;
      }
      ctx.out(`night ${day} started on the running Soul (event seq ${reply.events.map((e) => e.seq).join(", ")}); following it, Ctrl-C detaches`);
      return report(ctx.out, day, await waitForNight(rt, day, ctx.signal, () => false));
    } finally {
      await local?.stop();
      await models?.close();
      await rt.close();
    }
  },
});

const report = (out: (s: string) => void, day: string, n: NightSummary | undefined): number => {
  if (!n?.completedSeq) {
    out(`night ${day} is still open (see \`sophont status\`)`);
    return 0;
  }
  const c = n.counts!;
  out(`night ${day} completed in ${(n.durationMs! / 1000).toFixed(1)} s: ${c.accepted} accepted (SFT Ledger), ${c.rejected} rejected, ${c.shadow} to the Shadow Ledger, ${c.refused} refused at ingest${c.dropped ? `, ${c.dropped} dropped (forgotten or text missing)` : ""}`);
  return 0;
};
