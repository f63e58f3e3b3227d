import { StartNight } from "../../../events/commands.ts";
import { NoResponderError, sendCommand } from "../../nats/commands.ts";
import { defineCommand } from "../command.ts";
import { UsageError } from "../format.ts";
import { openRuntime, type Runtime } from "../runtime.ts";
import { newCommandId, startActors, today } from "../actors.ts";
import { projectAt } from "../../../projections/runner.ts";
import { nightSummaries } from "../../../projections/night-summaries.projection.ts";

const waitForNight = async (rt: Runtime, nightId: string, signal: AbortSignal, idleLimit: () => Promise<boolean>) => {
  let idleRounds = 0;
  while (!signal.aborted) {
    const night = (await projectAt(rt.store, nightSummaries, "now"))[nightId];
    if (night?.completedSeq) return night;
    idleRounds = (await idleLimit()) ? idleRounds + 1 : 0;
    if (idleRounds >= 3) return night;
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
};

export const night = defineCommand({
  path: ["night"],
  summary: "start the night of a day: every input received so far is judged",
  usage: "sophont night [--day YYYY-MM-DD]",
  details: [
    "Sends StartNight to the Soul of a running `sophont up`; without one, runs the actors in this",
    "process until the night is done. The day defaults to today (local time).",
  ].join("\n"),
  options: { day: { type: "string" } },
  run: async (ctx, v): Promise<number> => {
    const day = (v.day as string | undefined) ?? today();
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new UsageError(`--day takes YYYY-MM-DD, got ${day}`);
    const rt = await openRuntime(ctx.config, ctx.err);
    const request = { id: newCommandId(), command: { type: "StartNight", day, trigger: "cli" } };
    try {
      let reply;
      let local: Awaited<ReturnType<typeof startActors>> | undefined;
      try {
        reply = await sendCommand(rt.nc, StartNight, request, 5_000);
      } catch (e) {
        if (!(e instanceof NoResponderError)) throw e;
        ctx.err("no `sophont up` is running: running the actors in this process");
        local = await startActors(rt);
        reply = await sendCommand(rt.nc, StartNight, request);
      }
      if (!reply.ok) {
        ctx.err(`refused: ${reply.refusal}`);
        return 1;
      }
      ctx.out(`night ${day} started (event seq ${reply.events.map((e) => e.seq).join(", ")})`);
      // In-process actors that have folded the whole log and still left the night open are done for now;
      // a remote `sophont up` is followed until the night completes (Ctrl-C detaches).
      const idle = async () => (local ? local.soul.position() >= (await rt.store.lastSeq()) : false);
      const n = await waitForNight(rt, day, ctx.signal, idle);
      await local?.stop();
      if (n?.completedSeq) ctx.out(`night ${day} completed: ${JSON.stringify(n.counts)} in ${n.durationMs} ms`);
      else ctx.out(`night ${day} is open: its inputs wait for Salience (see \`sophont status\`)`);
      return 0;
    } finally {
      await rt.close();
    }
  },
});
