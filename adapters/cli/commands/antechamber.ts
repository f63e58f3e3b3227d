import { defineCommand } from "../command.ts";
import { parsePosition, table } from "../format.ts";
import { openRuntime } from "../runtime.ts";
import { antechamberView } from "../../../projections/antechamber.projection.ts";
import { projectAt } from "../../../projections/runner.ts";

export const antechamber = defineCommand({
  path: ["antechamber"],
  summary: "the rejected questions' clusters night by night, with their age and what Mitosis made of them",
  usage: "sophont antechamber [--at SEQ|TIME] [--nights N] [--json]",
  details: [
    "Folds the log (from sequence 1 up to --at, default now): how many off-topic questions wait in the",
    "Antechamber, the last --nights clusterings (default 7), and every cluster seen: the nights it was found",
    "on (age), its size on its last night and the distinct questions it held over its life (seen: what",
    "Mitosis's minMembers counts), stability, density and status (watching, proposed, approved with its",
    "satellite, declined).",
  ].join("\n"),
  options: { at: { type: "string" }, nights: { type: "string" }, json: { type: "boolean" } },
  run: async (ctx, v) => {
    const until = v.at ? parsePosition(v.at as string, "--at") : "now";
    const nights = Number((v.nights as string | undefined) ?? 7);
    const rt = await openRuntime(ctx.config);
    try {
      const s = await projectAt(rt.store, antechamberView, until);
      if (v.json) return void ctx.out(JSON.stringify(s, null, 2));
      ctx.out(`${s.rejected} off-topic question(s) rejected; ${s.nights.length} night(s) clustered${v.at ? ` (as of ${v.at as string})` : ""}`);
      if (s.nights.length > 0) {
        ctx.out("\nnights");
        ctx.out(table([["night", "seq", "questions", "noise", "clusters"], ...s.nights.slice(-nights).map((n) => [n.nightId, n.seq, n.points, n.noise, n.clusters.join(" ") || "-"])]));
      }
      const clusters = Object.values(s.clusters);
      if (clusters.length > 0) {
        ctx.out("\nclusters");
        ctx.out(table([
          ["cluster", "born", "last night", "age", "size", "seen", "stability", "density", "status", "satellite"],
          ...clusters.map((c) => [c.clusterId, c.bornNight, c.lastNight, c.age, c.size, c.seen, c.stability.toFixed(1), c.density.toFixed(3), c.status, c.satelliteId ?? "-"]),
        ]));
      }
    } finally {
      await rt.close();
    }
  },
});
