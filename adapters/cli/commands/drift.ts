import { writeFileSync } from "node:fs";
import { defineCommand } from "../command.ts";
import { parsePosition, table, UsageError } from "../format.ts";
import { openRuntime } from "../runtime.ts";
import { driftSeries, type DriftPoint } from "../../../actors/mitosis/drift.ts";
import type { From } from "../../../events/store.ts";
import { centroids as centroidsProjection } from "../../../projections/centroids.projection.ts";
import { projectAt } from "../../../projections/runner.ts";
import { driftSvg, sparkline } from "../../report/charts.ts";

const after = (p: DriftPoint, from: From | undefined) => !from || ("seq" in from ? p.seq >= from.seq : Date.parse(p.time) >= from.time.getTime());

export const drift = defineCommand({
  path: ["drift"],
  summary: "how every centroid moved night by night: a table with sparklines, and an SVG of the trajectories",
  usage: "sophont drift [--from SEQ|TIME] [--to SEQ|TIME] [--centroid ID] [--svg FILE] [--json]",
  details: [
    "Per centroid and night: the cosine distance from the previous night and from birth, and the spread",
    "of the night's accepted questions. The sparklines show the distance per night and from birth over",
    "the range. --svg writes the trajectories in the plane of their first two principal components.",
  ].join("\n"),
  options: { from: { type: "string" }, to: { type: "string" }, centroid: { type: "string" }, svg: { type: "string" }, json: { type: "boolean" } },
  run: async (ctx, v) => {
    const from = v.from ? parsePosition(v.from as string, "--from") : undefined;
    const to = v.to ? parsePosition(v.to as string, "--to") : "now";
    const rt = await openRuntime(ctx.config);
    try {
      const state = await projectAt(rt.store, centroidsProjection, to);
      const wanted = v.centroid ? [state[v.centroid as string]] : Object.values(state);
      if (wanted.some((c) => !c)) throw new UsageError(`no centroid ${v.centroid as string}; known: ${Object.keys(state).join(", ") || "none"}`);
      const series = wanted.filter((c) => c !== undefined).map((c) => ({ id: c.id, points: driftSeries(c).filter((p) => after(p, from)) }));
      if (v.json) return void ctx.out(JSON.stringify(series, null, 2));
      if (series.every((s) => s.points.length === 0)) return void ctx.out("no night in that range has moved any centroid yet");
      ctx.out(table([
        ["centroid", "nights", "per night", "from birth", "last move", "max move", "from birth now", "spread"],
        ...series.map(({ id, points }) => {
          const last = points.at(-1);
          const moves = points.map((p) => p.fromPrevious);
          return [id, points.length, sparkline(moves), sparkline(points.map((p) => p.fromBirth)), (last?.fromPrevious ?? 0).toFixed(4), Math.max(0, ...moves).toFixed(4), (last?.fromBirth ?? 0).toFixed(4), (last?.spread ?? 0).toFixed(3)];
        }),
      ]));
      if (v.svg) {
        const svg = driftSvg(series.map((s) => ({ id: s.id, points: s.points.map((p) => ({ label: p.nightId ?? "birth", vector: p.vector })) })), "Sophont: centroid drift");
        writeFileSync(v.svg as string, svg);
        ctx.out(`wrote ${v.svg as string}`);
      }
    } finally {
      await rt.close();
    }
  },
});
