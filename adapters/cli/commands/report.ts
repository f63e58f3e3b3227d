import { existsSync, statSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { defineCommand } from "../command.ts";
import { parsePosition, printResult, UsageError } from "../format.ts";
import { openRuntime } from "../runtime.ts";
import { collectReport } from "../../report/collect.ts";
import { renderReport } from "../../report/render.ts";
import { agentsTextView, inputTextReader, textItems, withInputText } from "../../report/rejections.ts";
import { ObjectContentStore } from "../../nats/content-store.ts";

export const report = defineCommand({
  path: ["report"],
  summary: "write one self-contained HTML report: nights, drift, the Antechamber, rejections by cause, adapters, each number linked to its event",
  usage: "sophont report [--at SEQ|TIME] [--out report.html] [--json]",
  details: "Opens in any browser without a network. --at draws the log as it was then.",
  options: { at: { type: "string" }, out: { type: "string" }, json: { type: "boolean" } },
  run: async (ctx, v) => {
    const at = v.at ? parsePosition(v.at as string, "--at") : "now";
    const out = resolve((v.out as string | undefined) ?? "report.html");
    checkWritable(out);
    const rt = await openRuntime(ctx.config);
    try {
      // A report is a file people send on: its texts are the ones agents may read (the airlock's "agents" mode).
      const text = await agentsTextView(rt.store, ctx.config.airlock);
      const data = await collectReport(rt.store, at, { text });
      await withInputText(textItems(data), text, inputTextReader(data.contentOf, new ObjectContentStore(rt.nc)), false);
      writeFileSync(out, renderReport(data));
      const counts = { nights: Object.keys(data.nights).length, satellites: data.births.length, adapterJobs: data.adapters.length };
      printResult(ctx, v.json, { out, ...counts }, () => `report written: ${out} (${counts.nights} nights, ${counts.satellites} satellite(s), ${counts.adapterJobs} adapter job(s))`);
    } finally {
      await rt.close();
    }
  },
});

/** Refuses, before any work, an output whose folder is missing or is not a folder, saying what to do. */
export const checkWritable = (file: string): void => {
  const dir = dirname(file);
  if (!existsSync(dir)) throw new UsageError(`cannot write ${file}: the folder ${dir} does not exist (create it with \`mkdir -p ${dir}\`, or choose another --out)`);
  if (!statSync(dir).isDirectory()) throw new UsageError(`cannot write ${file}: ${dir} is not a folder`);
  if (existsSync(file) && statSync(file).isDirectory()) throw new UsageError(`cannot write ${file}: it is a folder; name a file, e.g. --out ${file}/report.html`);
};
