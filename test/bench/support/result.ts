import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";

export interface BenchResult {
  /** The benchmark's name; also the file name under test/bench/results/. */
  readonly name: string;
  /** Ours divided by the baseline measured in the same run. */
  readonly ratio: number;
  readonly target: number;
  readonly better: "higher" | "lower";
  /** Raw figures (throughputs, times, peak RSS ...) behind the ratio. */
  readonly figures: Record<string, unknown>;
  /** One line for the README table: what was measured against what. */
  readonly summary: string;
}

/** The machine a figure was measured on, recorded beside every result. */
export const machine = () => ({
  cpu: os.cpus()[0]?.model ?? "unknown",
  cores: os.cpus().length,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  platform: `${os.platform()} ${os.release()}`,
  node: process.version,
});

export const resultsDir = new URL("../results/", import.meta.url);

/** Writes test/bench/results/<name>.json and prints the headline. */
export const writeBenchResult = (result: BenchResult): void => {
  mkdirSync(resultsDir, { recursive: true });
  const met = result.better === "higher" ? result.ratio >= result.target : result.ratio <= result.target;
  const record = { ...result, met, machine: machine(), measuredAt: new Date().toISOString() };
  writeFileSync(new URL(`${result.name}.json`, resultsDir), JSON.stringify(record, null, 2) + "\n");
  const cmp = result.better === "higher" ? ">=" : "<=";
  console.log(`[${result.name}] ratio ${result.ratio.toFixed(3)} (target ${cmp} ${result.target}) ${met ? "met" : "NOT met"} — ${result.summary}`);
};

/** Peak resident set size of this process so far, in MiB (Linux and macOS report it). */
export const peakRssMiB = (): number => {
  const maxRss = process.resourceUsage().maxRSS; // KiB
  return Math.round(maxRss / 1024);
};
