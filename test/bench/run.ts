// `npm run bench [-- NAME ...]`: runs every test/bench/*.bench.ts (or the named ones), each in its
// own process so peak memory is its own, then rewrites the README's benchmark table from
// test/bench/results/*.json.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { updateReadmeTable } from "./support/readme.ts";

const dir = fileURLToPath(new URL(".", import.meta.url));
const all = readdirSync(dir).filter((f) => f.endsWith(".bench.ts")).map((f) => f.replace(/\.bench\.ts$/, "")).sort();
const args = process.argv.slice(2).filter((a) => !a.startsWith("-"));
if (process.argv.includes("--help")) {
  console.log(`usage: npm run bench [-- NAME ...]\n\nbenchmarks: ${all.join(", ")}\nresults: test/bench/results/<name>.json and the README's table`);
  process.exit(0);
}
const unknown = args.filter((a) => !all.includes(a));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(", ")}; known: ${all.join(", ")}`);
  process.exit(2);
}
let failed = 0;
for (const name of args.length > 0 ? args : all) {
  console.log(`\n== ${name}`);
  const run = spawnSync(process.execPath, ["--import", "tsx", "--expose-gc", `${dir}${name}.bench.ts`], { stdio: "inherit" });
  if (run.status !== 0) failed++;
}
updateReadmeTable();
process.exit(failed > 0 ? 1 : 0);
