import { defineCommand } from "../command.ts";
import { parsePosition, UsageError } from "../format.ts";
import { openRuntime } from "../runtime.ts";
import { diffBetween } from "../../../projections/diff.ts";

export const diff = defineCommand({
  path: ["diff"],
  summary: "what changed between two points of the log: centroids born or moved, ledger entries, nights",
  usage: "sophont diff --from SEQ|TIME [--to SEQ|TIME] [--json]",
  details: "Both points are folded from the log with the same projections as everything else (time travel); --to defaults to now.",
  options: { from: { type: "string" }, to: { type: "string" }, json: { type: "boolean" } },
  run: async (ctx, v) => {
    if (!v.from) throw new UsageError("--from is required");
    const from = parsePosition(v.from as string, "--from");
    const to = v.to ? parsePosition(v.to as string, "--to") : "now";
    const rt = await openRuntime(ctx.config);
    try {
      const d = await diffBetween(rt.store, from, to);
      if (v.json) return void ctx.out(JSON.stringify(d, null, 2));
      const list = (xs: string[]) => (xs.length ? xs.map((x) => x.slice(0, 16)).join(", ") : "none");
      ctx.out(`centroids born: ${list(d.centroids.born)}${d.centroids.gone.length ? `; gone: ${list(d.centroids.gone)}` : ""}`);
      for (const m of d.centroids.moved) ctx.out(`  ${m.id} moved by cosine distance ${m.cosineDistance.toExponential(3)}`);
      for (const k of ["sft", "shadow", "anchor"] as const) ctx.out(`${k} ledger: +${d.ledgers[k].added.length} -${d.ledgers[k].removed.length}`);
      ctx.out(`nights started: ${list(d.nights.started)}; completed: ${list(d.nights.completed)}`);
    } finally {
      await rt.close();
    }
  },
});
