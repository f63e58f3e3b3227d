import { defineCommand } from "../command.ts";
import { parsePosition, table } from "../format.ts";
import { openRuntime } from "../runtime.ts";
import { cosine } from "../../../events/vectors.ts";
import { centroids as centroidsProjection, PREOCCUPATION } from "../../../projections/centroids.projection.ts";
import { projectAt } from "../../../projections/runner.ts";

export const centroids = defineCommand({
  path: ["centroids"],
  summary: "the Preoccupation and Satellite Centroids, now or as they were (--at), rebuilt from the log",
  usage: "sophont centroids [--at SEQ|TIME] [--json]",
  details: [
    "Each centroid: its kind, the sequence it was born at, the questions accepted to it, the nights it",
    "has lived and its similarity to the Preoccupation. --at takes a sequence, a time or a duration back",
    "(2h): the centroids are folded from sequence 1 up to there, so a satellite born later is absent.",
  ].join("\n"),
  options: { at: { type: "string" }, json: { type: "boolean" } },
  run: async (ctx, v) => {
    const until = v.at ? parsePosition(v.at as string, "--at") : "now";
    const rt = await openRuntime(ctx.config);
    try {
      const state = await projectAt(rt.store, centroidsProjection, until);
      const all = Object.values(state);
      if (v.json) return void ctx.out(JSON.stringify(all.map(({ pending: _p, seedSum: _s, ...c }) => c), null, 2));
      if (all.length === 0) return void ctx.out(`no centroid${v.at ? ` at ${v.at as string}` : ""} (seed the Preoccupation first)`);
      const pre = state[PREOCCUPATION];
      ctx.out(table([
        ["centroid", "kind", "born at seq", "seeds", "accepted", "nights", "similarity to preoccupation"],
        ...all.map((c) => [c.id, c.kind, c.bornSeq, c.seeds, c.accepted, c.history.filter((h) => h.nightId !== null).length, pre ? cosine(c.vector, pre.vector).toFixed(3) : "-"]),
      ]));
    } finally {
      await rt.close();
    }
  },
});
