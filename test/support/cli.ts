import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";

/** The real `sophont` entry point, run with the node that runs the tests. */
export const sophontBin = fileURLToPath(new URL("../../adapters/cli/bin.mjs", import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly out: string;
  readonly err: string;
  readonly ms: number;
  /** Peak resident memory of the sophont process (KiB), when started with `measureRss`. */
  readonly peakRssKiB?: number;
  /** True when the process outlived `timeoutMs` and was killed: a hang. */
  readonly timedOut: boolean;
}

export interface CliRun {
  readonly child: ChildProcess;
  readonly done: Promise<CliResult>;
  /** What it printed on stdout so far (a long-running process: up). */
  readonly stdout: () => string;
}

export interface CliOptions {
  readonly env: NodeJS.ProcessEnv;
  /** Fed to the process's standard input (then closed); without it stdin is closed at once, as in CI. */
  readonly stdin?: Readable;
  /** The process is killed (SIGKILL) past this and the result says timedOut. */
  readonly timeoutMs?: number;
  /** Run under GNU time to learn the peak RSS (Linux's /usr/bin/time). */
  readonly measureRss?: boolean;
}

let runs = 0;

/** Starts `sophont ARGS...` as its own process; the caller may kill it (kill -9 trials) or await `done`. */
export const startSophont = (args: ReadonlyArray<string>, opts: CliOptions): CliRun => {
  const t0 = Date.now();
  const rssFile = join(tmpdir(), `sophont-rss-${process.pid}-${runs++}`);
  const [cmd, argv] = opts.measureRss
    ? ["/usr/bin/time", ["-f", "%M", "-o", rssFile, process.execPath, sophontBin, ...args]]
    : [process.execPath, [sophontBin, ...args]];
  const child = spawn(cmd, argv as string[], { env: { ...process.env, ...opts.env }, stdio: [opts.stdin ? "pipe" : "ignore", "pipe", "pipe"], detached: opts.measureRss === true });
  if (opts.stdin) {
    child.stdin!.on("error", () => undefined);
    opts.stdin.pipe(child.stdin!);
  }
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (err += d));
  // Under GNU time the process group goes: killing time alone would orphan sophont.
  const kill = () => (opts.measureRss ? process.kill(-child.pid!, "SIGKILL") : child.kill("SIGKILL"));
  let timedOut = false;
  const timer = opts.timeoutMs ? setTimeout(() => ((timedOut = true), kill()), opts.timeoutMs) : undefined;
  const done = new Promise<CliResult>((resolve) =>
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      let peakRssKiB: number | undefined;
      if (opts.measureRss) {
        try {
          peakRssKiB = Number(/(\d+)\s*$/.exec(readFileSync(rssFile, "utf8"))?.[1]);
        } catch {
          peakRssKiB = undefined;
        }
        rmSync(rssFile, { force: true });
      }
      resolve({ code, signal, out, err, ms: Date.now() - t0, timedOut, ...(peakRssKiB ? { peakRssKiB } : {}) });
    }),
  );
  return { child, done, stdout: () => out };
};

/** Runs `sophont ARGS...` to its end. */
export const runSophont = (args: ReadonlyArray<string>, opts: CliOptions): Promise<CliResult> => startSophont(args, opts).done;
