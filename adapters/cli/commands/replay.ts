import { defineCommand, type CliContext } from "../command.ts";
import { openModels } from "../models.ts";
import { serveFromLog } from "../training.ts";
import { ObjectContentStore } from "../../nats/content-store.ts";
import { verifyDecisions } from "../../../actors/salience/verify.ts";
import { parsePosition, progress, UsageError } from "../format.ts";
import { openRuntime } from "../runtime.ts";
import { ProjectionRunner, projectAt } from "../../../projections/runner.ts";
import { allProjections, projectionNamed } from "../../../projections/index.ts";

export const replay = defineCommand({
  path: ["replay"],
  summary: "fold the log into projections: as of a point in time (time travel) or rebuilt from sequence 1",
  usage: "sophont replay [--until SEQ|TIME] [--projection NAME] [--rebuild] [--json] | --verify [--night N]",
  details: [
    "Without --rebuild, folds from sequence 1 up to --until (default: now) and prints the state; no",
    "checkpoint is touched. With --rebuild, drops the saved checkpoints and rebuilds the live projections.",
    `Projections: ${allProjections.map((p) => p.name).join(", ")}.`,
    "With --verify, measures every recorded input again with the recorded model (by hash) and judges it",
    "under today's policy (config.json `salience`), and lists each decision that would come out",
    "differently, and why: a changed policy, another model or adapter, or non-determinism.",
  ].join("\n"),
  options: {
    until: { type: "string" },
    projection: { type: "string" },
    rebuild: { type: "boolean" },
    verify: { type: "boolean" },
    night: { type: "string" },
    json: { type: "boolean" },
  },
  run: async (ctx, v): Promise<number> => {
    if (v.verify) return verify(ctx, v.night as string | undefined, v.json === true);
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
        return 0;
      }
      const states: Record<string, unknown> = {};
      for (const p of projections) states[p.name] = await projectAt(rt.store, p, until);
      const shown = Object.fromEntries(projections.map((p) => [p.name, p.toJSON ? p.toJSON(states[p.name]) : states[p.name]]));
      if (v.json || name) ctx.out(JSON.stringify(name ? shown[name] : shown, null, 2));
      else for (const [n, s] of Object.entries(shown)) ctx.out(`${n}: ${JSON.stringify(s).slice(0, 300)}`);
      return 0;
    } finally {
      await rt.close();
    }
  },
});

const verify = async (ctx: CliContext, night: string | undefined, json: boolean): Promise<number> => {
  const rt = await openRuntime(ctx.config, ctx.err);
  const models = await openModels(ctx.config, ctx.err);
  try {
    const serving = await serveFromLog(rt, models.lm, ctx.config.home);
    ctx.err(`measuring with ${serving ? `the serving adapter ${serving.slice(0, 12)}` : "the base model (no adapter promoted)"}`);
    const r = await verifyDecisions({ store: rt.store, content: new ObjectContentStore(rt.nc), model: models.salience }, ctx.config.policy, night);
    if (json) ctx.out(JSON.stringify(r, null, 2));
    else {
      ctx.out(`${r.checked} decision(s) checked${night ? ` in night ${night}` : ""} against policy ${ctx.config.policy.version}: ${r.findings.length} would differ`);
      for (const f of r.findings) ctx.out(`  ${f.inputId.slice(0, 12)} (night ${f.nightId}, seq ${f.seq}): ${f.recorded} -> ${f.now ?? "?"} [${f.why}] ${f.detail}`);
    }
    return r.findings.length === 0 ? 0 : 3;
  } finally {
    await models.close();
    await rt.close();
  }
};
