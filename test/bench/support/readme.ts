import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { resultsDir } from "./result.ts";

const readme = new URL("../../../README.md", import.meta.url);
const BEGIN = "<!-- bench:begin -->";
const END = "<!-- bench:end -->";

/** Rewrites the block between the bench markers of the README from the result files. */
export const updateReadmeTable = (): void => {
  if (!existsSync(readme)) return;
  const rows = readdirSync(resultsDir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => JSON.parse(readFileSync(new URL(f, resultsDir), "utf8")))
    .map((r) => {
      const cmp = r.better === "higher" ? "≥" : "≤";
      const m = r.machine ?? {};
      return `| ${r.name} | ${Number(r.ratio).toFixed(3)} | ${cmp} ${r.target} | ${r.met ? "yes" : "no"} | ${r.summary} | ${m.cores} × ${m.cpu}, Node ${m.node} |`;
    });
  const table = [
    "| benchmark | ratio | target | met | what was measured | machine |",
    "| --- | --- | --- | --- | --- | --- |",
    ...rows,
  ].join("\n");
  const text = readFileSync(readme, "utf8");
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (start < 0 || end < start) return;
  writeFileSync(readme, text.slice(0, start + BEGIN.length) + "\n" + table + "\n" + text.slice(end));
};
