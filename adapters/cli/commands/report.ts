import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { defineCommand } from "../command.ts";
import { parsePosition } from "../format.ts";
import { openRuntime } from "../runtime.ts";
import { collectReport } from "../../report/collect.ts";
import { renderReport } from "../../report/render.ts";

export const report = defineCommand({
  path: ["report"],
  summary: "write one self-contained HTML report: nights, drift, the Antechamber, adapters, each number linked to its event",
  usage: "sophont report [--at SEQ|TIME] [--out report.html]",
  details: "Opens in any browser without a network. --at draws the log as it was then.",
  options: { at: { type: "string" }, out: { type: "string" } },
  run: async (ctx, v) => {
    const at = v.at ? parsePosition(v.at as string, "--at") : "now";
    const out = resolve((v.out as string | undefined) ?? "report.html");
    const rt = await openRuntime(ctx.config);
    try {
      const data = await collectReport(rt.store, at);
      writeFileSync(out, renderReport(data));
      ctx.out(`report written: ${out} (${Object.keys(data.nights).length} nights, ${data.births.length} satellite(s), ${data.adapters.length} adapter job(s))`);
    } finally {
      await rt.close();
    }
  },
});
