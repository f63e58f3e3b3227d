// Perplexity scoring throughput against plain evaluation of the same tokens on the same model,
// for 256-, 32k- and 150k-token vocabularies (random-weight llamas of one small real-ish shape).
// Scoring goes through the public node-llama-cpp 3.21.1 path the adapter uses (controlledEvaluate
// with generateNext.probabilities); a `confidence`-only pass is timed too as the upper bound of
// any public path that still sorts the vocabulary natively (it scores the sampled token, not the target).
// When the prototype addon adapters/llm/native/ is built (build.sh; Linux x64), a third pass scores
// through it: node-llama-cpp's private _decodeTokens with a logit mapper that calls native log-softmax.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getLlama, LlamaLogLevel, type LlamaContextSequence, type Token } from "node-llama-cpp";
import { scoreTokens } from "../../adapters/llm/perplexity.ts";
import { prng } from "../../adapters/llm/tiny/corpusgen/generate.ts";
import { writeRandomLlama } from "../../adapters/llm/tiny/random.ts";
import { peakRssMiB, writeBenchResult } from "./support/result.ts";

const SHAPE = { dim: 256, layers: 4, heads: 4, feedForward: 1024, contextLength: 1024, seed: 11 };
const CASES = [
  { vocabSize: 256, tokens: 256 },
  { vocabSize: 32_000, tokens: 128 },
  { vocabSize: 151_936, tokens: 64 },
];
const dir = join(tmpdir(), "sophont-bench-models");

const best = async (runs: number, f: () => Promise<void>): Promise<number> => {
  let min = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await f();
    min = Math.min(min, performance.now() - t0);
  }
  return min / 1000;
};

const plain = async (seq: LlamaContextSequence, tokens: Token[]) => {
  await seq.clearHistory();
  await seq.evaluateWithoutGeneratingNewTokens(tokens);
};

const confidenceOnly = async (seq: LlamaContextSequence, tokens: Token[]) => {
  await seq.clearHistory();
  await seq.controlledEvaluate(tokens.map((t, i) => (i < tokens.length - 1 ? [t, { generateNext: { confidence: true } }] : t)));
};

type Native = { targetLogProb(ctx: unknown, batchLogitIndex: number, target: number): number };
const loadNative = (): Native | null => {
  const built = new URL("../../node_modules/.cache/sophont-native/target-logprob.node", import.meta.url).pathname;
  if (!existsSync(built) && process.platform === "linux" && process.arch === "x64") {
    spawnSync("sh", [new URL("../../adapters/llm/native/build.sh", import.meta.url).pathname], { stdio: "inherit" });
  }
  try { return createRequire(import.meta.url)(built) as Native; } catch { return null; }
};

/**
 * Prototype native path: logits stay in llama.cpp, only ln p(target) crosses into JS. With
 * `native` null it only asks for logits at every position and reads none: the compute ceiling.
 */
const nativeScore = async (native: Native | null, ctx: unknown, seq: LlamaContextSequence, tokens: Token[]) => {
  await seq.clearHistory();
  const s = seq as unknown as { _decodeTokens: Function; _tokenMeter: unknown; _contextShift: { size: unknown; strategy: unknown } };
  const addonCtx = (ctx as { _ctx: unknown })._ctx;
  const logits = tokens.map((_, i) => (i < tokens.length - 1 ? true : undefined));
  await s._decodeTokens(tokens, logits, 5, s._tokenMeter, { size: s._contextShift.size, strategy: s._contextShift.strategy },
    (batchLogitIndex: number, i: number) => (native === null ? 0 : native.targetLogProb(addonCtx, batchLogitIndex, tokens[i + 1]!)));
};

const native = loadNative();
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
mkdirSync(dir, { recursive: true });
const figures: Record<string, unknown> = { shape: SHAPE, threads: 1 };
const ratios: number[] = [];
for (const c of CASES) {
  const path = join(dir, `random-v${c.vocabSize}-d${SHAPE.dim}-l${SHAPE.layers}.gguf`);
  if (!existsSync(path)) writeRandomLlama(path, { ...SHAPE, vocabSize: c.vocabSize });
  const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
  const context = await model.createContext({ contextSize: 1024, threads: 1, batchSize: 512 });
  const seq = context.getSequence();
  const rand = prng(c.vocabSize);
  const tokens = Array.from({ length: c.tokens }, () => (4 + Math.floor(rand() * (c.vocabSize - 4))) as Token);
  await plain(seq, tokens); // warm-up
  const plainS = await best(3, () => plain(seq, tokens));
  const scoreS = await best(2, async () => { await seq.clearHistory(); await scoreTokens(seq, tokens, null, tokens.length, tokens.length - 1); });
  const confS = await best(2, () => confidenceOnly(seq, tokens));
  const nativeS = native === null ? null : await best(3, () => nativeScore(native, context, seq, tokens));
  const allLogitsS = await best(3, () => nativeScore(null, context, seq, tokens));
  const n = tokens.length;
  const row = {
    tokens: n,
    plainTokPerS: Math.round(n / plainS),
    scoringTokPerS: Math.round((n - 1) / scoreS),
    confidenceOnlyTokPerS: Math.round((n - 1) / confS),
    allLogitsTokPerS: Math.round((n - 1) / allLogitsS),
    allLogitsCeilingRatio: Number(((n - 1) / allLogitsS / (n / plainS)).toFixed(4)),
    ratio: Number(((n - 1) / scoreS / (n / plainS)).toFixed(4)),
    confidenceOnlyRatio: Number(((n - 1) / confS / (n / plainS)).toFixed(4)),
    ...(nativeS === null ? {} : {
      nativePrototypeTokPerS: Math.round((n - 1) / nativeS),
      nativePrototypeRatio: Number(((n - 1) / nativeS / (n / plainS)).toFixed(4)),
    }),
  };
  console.log(`vocab ${c.vocabSize}:`, row);
  figures[`vocab${c.vocabSize}`] = row;
  ratios.push(row.ratio);
  await context.dispose();
  await model.dispose();
}
figures.peakRssMiB = peakRssMiB();
const worst = Math.min(...ratios);
writeBenchResult({
  name: "perplexity",
  ratio: worst,
  target: 0.5,
  better: "higher",
  figures,
  summary: `scoring vs plain eval, same tokens and model, vocab 256/32k/152k: public probabilities path ${ratios.map((r) => r.toFixed(3)).join(" / ")}` +
    (native === null ? "" : `; native log-softmax prototype ${CASES.map((c) => (figures[`vocab${c.vocabSize}`] as { nativePrototypeRatio: number }).nativePrototypeRatio.toFixed(3)).join(" / ")}`) +
    `; logits-at-every-position ceiling ${CASES.map((c) => (figures[`vocab${c.vocabSize}`] as { allLogitsCeilingRatio: number }).allLogitsCeilingRatio.toFixed(3)).join(" / ")} (d=${SHAPE.dim}, ${SHAPE.layers} layers)`,
});
await llama.dispose();
