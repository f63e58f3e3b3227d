import { defineCommand } from "../command.ts";
import { parsePosition, progress, UsageError } from "../format.ts";
import { openRuntime } from "../runtime.ts";
import { ProjectionRunner, projectAt } from "../../../projections/runner.ts";
import { allProjections, projectionNamed } from "../../../projections/index.ts";

export const replay = defineCommand({
  path: ["replay"],
  summary: "fold the log into projections: as of a point in time (time travel) or rebuilt from sequence 1",
  usage: "sophont replay [--until SEQ|TIME] [--projection NAME] [--rebuild] [--json]",
  details: [
    "Without --rebuild, folds from sequence 1 up to --until (default: now) and prints the state; no",
    "checkpoint is touched. With --rebuild, drops the saved checkpoints and rebuilds the live projections.",
    `Projections: ${allProjections.map((p) => p.name).join(", ")}.`,
  ].join("\n"),
  options: {
    until: { type: "string" },
    projection: { type: "string" },
    rebuild: { type: "boolean" },
    json: { type: "boolean" },
  },
  run: async (ctx, v) => {
    const name = v.projection as string | undefined;
    const chosen = name ? [projectionNamed(name)] : allProjections;
    if (chosen.some((p) => !p)) throw new UsageError(`no projection ${name}; known: ${allProjections.map((p) => p.name).join(", ")}`);
    const projections = chosen.filter((p) => p !== undefined);
    if (v.rebuild && v.until) throw new UsageError("--rebuild rebuilds the live projections up to now; it takes no --until");
    const until = v.until ? parsePosition(v.until as string, "--until") : "now";
    const rt = await openRuntime(ctx.config);
    try {
      if (v.rebuild) {
        const last = await rt.store.lastSeq();
        const bar = progress("rebuilding");
        const runner = new ProjectionRunner(rt.store, rt.checkpoints, projections, { checkpointEvery: 5000, onProgress: (_n, seq) => bar.update(seq, last) });
        await runner.reset();
        const t0 = performance.now();
        await runner.catchUp();
        bar.done();
        ctx.out(`rebuilt ${projections.map((p) => p.name).join(", ")} from sequence 1 to ${last} in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
        return;
      }
      const states: Record<string, unknown> = {};
      for (const p of projections) states[p.name] = await projectAt(rt.store, p, until);
      if (v.json || name) ctx.out(JSON.stringify(name ? states[name] : states, null, 2));
      else for (const [n, s] of Object.entries(states)) ctx.out(`${n}: ${JSON.stringify(s).slice(0, 300)}`);
    } finally {
      await rt.close();
    }
  },
});
