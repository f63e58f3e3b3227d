// The trainer payload (adapters/trainer, Python + PyTorch) and llama.cpp side by side: running the
// trainer's CLI, and reading llama.cpp's next-token log-probs the way the trainer prints its own.
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import type { LlamaModel, Token } from "node-llama-cpp";

export const ROOT = path.resolve(new URL("../../", import.meta.url).pathname);
export const TRAINER = path.join(ROOT, "adapters/trainer");
// Debian's python3-torch lives under the system interpreter, not under pyenv's `python3` shim.
export const PYTHON = "/usr/bin/python3";
export const pythonEnv = { ...process.env, PYTHONPATH: TRAINER, PYTHONDONTWRITEBYTECODE: "1" };
export const execFileAsync = promisify(execFile);

/** Runs `python -m sophont_trainer ARGS` and returns its stdout. */
export const trainer = async (args: readonly string[]): Promise<string> => {
  const { stdout } = await execFileAsync(PYTHON, ["-m", "sophont_trainer", ...args], { cwd: ROOT, env: pythonEnv, maxBuffer: 256 * 1024 * 1024 });
  return stdout;
};

/** Runs a Python script of the trainer's tests folder (where `helpers` puts the package on the path). */
export const trainerScript = async (script: string, args: readonly string[]): Promise<string> => {
  const { stdout } = await execFileAsync(PYTHON, [path.join(TRAINER, "tests", script), ...args], { cwd: path.join(TRAINER, "tests"), env: pythonEnv, maxBuffer: 512 * 1024 * 1024 });
  return stdout;
};

export type Lines = ReadonlyArray<Record<string, unknown>>;
export const jsonLines = (stdout: string): Lines =>
  stdout
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** [sequence][position][token] */
export type Logprobs = number[][][];

/** llama.cpp's next-token log-probs. The KV cache is F32 and flash attention is off: llama.cpp's defaults
 * (F16 cache, CPU flash attention in F16) alone move log-probs by ~1e-2 on the tiny models. */
export const llamaLogprobs = async (model: LlamaModel, seqs: number[][], vocab: number, lora?: string): Promise<Logprobs> => {
  const context = await model.createContext({
    contextSize: 128,
    threads: 1,
    flashAttention: false,
    experimentalKvCacheKeyType: "F32",
    experimentalKvCacheValueType: "F32",
    ...(lora ? { lora: { adapters: [{ filePath: lora, scale: 1 }] } } : {}),
  });
  try {
    const sequence = context.getSequence();
    const out: Logprobs = [];
    for (const tokens of seqs) {
      const results = await sequence.controlledEvaluate(tokens.map((t) => [t as Token, { generateNext: { probabilities: true } }] as const));
      out.push(
        results.map((r) => {
          const probs = r?.next.probabilities;
          if (!probs || probs.size !== vocab) throw new Error("llama.cpp returned no full distribution");
          const row = new Array<number>(vocab).fill(Number.NEGATIVE_INFINITY);
          for (const [token, p] of probs) row[token] = Math.log(p);
          return row;
        }),
      );
      await sequence.clearHistory();
    }
    return out;
  } finally {
    await context.dispose();
  }
};

const absDiffs = (a: Logprobs, b: Logprobs): number[] =>
  a.flatMap((seq, i) => seq.flatMap((row, j) => row.map((v, k) => Math.abs(v - (b[i]?.[j]?.[k] ?? Number.NaN)))));

export const maxAbsDiff = (a: Logprobs, b: Logprobs): number => absDiffs(a, b).reduce((m, d) => (Number.isNaN(d) ? Number.NaN : Math.max(m, d)), 0);

export const meanAbsDiff = (a: Logprobs, b: Logprobs): number => {
  const d = absDiffs(a, b);
  return d.reduce((s, x) => s + x, 0) / d.length;
};

/** a - b, element by element (an adapter's effect: tuned minus base). */
export const minus = (a: Logprobs, b: Logprobs): Logprobs => a.map((seq, i) => seq.map((row, j) => row.map((v, k) => v - b[i]![j]![k]!)));
