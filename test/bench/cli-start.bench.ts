// How fast `sophont` starts: `sophont --help` (wall time and peak RSS) and `sophont status` against a
// running server with a loaded log (100k events), each against `node -e 0` measured in the same run,
// alternating, medians of REPS. Runs the installed entry (bin.mjs on the compiled CLI, as after npm ci).
// ratio = help wall time / node -e 0 wall time (lower is better; target 5x); the figures hold the rest
// (help peak RSS, target 80 MiB; status wall time, target 1 s). `status` runs with telemetry off, and
// again with the default a user gets (spans to the home's trace file) as statusTracesS.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../../adapters/cli/config.ts";
import { openRuntime } from "../../adapters/cli/runtime.ts";
import { inputReceived, pending } from "../support/events.ts";
import { writeBenchResult } from "./support/result.ts";

const REPS = 5;
const EVENTS = 100_000;
const bin = fileURLToPath(new URL("../../adapters/cli/bin.mjs", import.meta.url));
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Wall seconds and peak RSS (MiB) of one process, from GNU time. */
const timed = (args: string[], env: NodeJS.ProcessEnv): { s: number; mib: number } => {
  const r = spawnSync("/usr/bin/time", ["-f", "%e %M", process.execPath, ...args], { env, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${args.join(" ")} exited ${r.status}: ${r.stderr.slice(-500)}`);
  const [s, kb] = r.stderr.trim().split("\n").at(-1)!.split(" ").map(Number);
  return { s: s!, mib: Math.round(kb! / 1024) };
};

const main = async (): Promise<void> => {
  // The compiled CLI, as npm ci's postinstall leaves it.
  await (await import("../../adapters/cli/build.mjs" as string)).buildCli();
  const home = mkdtempSync(join(tmpdir(), "sophont-bench-cli-"));
  const rt = await openRuntime(loadConfig({ home }, { ...process.env, SOPHONT_NATS_URL: "" }));
  try {
    for (let i = 0; i < EVENTS; i += 1000) {
      await rt.store.append(Array.from({ length: Math.min(1000, EVENTS - i) }, (_, k) => pending(inputReceived((i + k).toString(16).padStart(64, "0")))));
    }
    const env = { ...process.env, SOPHONT_HOME: home, SOPHONT_NATS_URL: "", OTEL_SDK_DISABLED: "true" };
    const runs = { nodeS: [] as number[], nodeMiB: [] as number[], helpS: [] as number[], helpMiB: [] as number[], statusS: [] as number[], statusMiB: [] as number[], statusTracesS: [] as number[] };
    const { OTEL_SDK_DISABLED: _off, ...withTraces } = env;
    timed([bin, "--help"], env); // warm the file cache
    for (let rep = 0; rep < REPS; rep++) {
      const n = timed(["-e", "0"], env);
      const h = timed([bin, "--help"], env);
      const s = timed([bin, "status"], env);
      const t = timed([bin, "status"], withTraces);
      runs.nodeS.push(n.s), runs.nodeMiB.push(n.mib), runs.helpS.push(h.s), runs.helpMiB.push(h.mib), runs.statusS.push(s.s), runs.statusMiB.push(s.mib), runs.statusTracesS.push(t.s);
    }
    const m = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v)])) as Record<keyof typeof runs, number>;
    writeBenchResult({
      name: "cli-start",
      ratio: m.helpS / Math.max(m.nodeS, 0.01),
      target: 5,
      better: "lower",
      figures: { reps: REPS, events: EVENTS, median: m, runs, targets: { helpRatio: 5, helpMiB: 80, statusS: 1 }, helpMiBMet: m.helpMiB <= 80, statusMet: m.statusS <= 1 },
      summary: `sophont --help ${m.helpS.toFixed(2)} s, ${m.helpMiB} MiB; status on ${EVENTS / 1000}k events ${m.statusS.toFixed(2)} s (${m.statusTracesS.toFixed(2)} s with the trace file); node -e 0 ${m.nodeS.toFixed(2)} s, ${m.nodeMiB} MiB`,
    });
  } finally {
    await rt.close();
    rmSync(home, { recursive: true, force: true });
  }
};

await main();
