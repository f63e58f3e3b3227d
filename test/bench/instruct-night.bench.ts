// A night on an instruction model: tokens the model evaluates per input token, and wall time, on the
// one-pass path against the four-call path ("today's path" in issue 15) and one plain evaluation.
// The model is the project's random-weight ChatML llama (tiny/instruct.ts) at a ~152k vocabulary and,
// unless BENCH_INSTRUCT_SHAPES says otherwise, ~32k; the tiny embedder embeds the questions.
// The night: INPUTS texts of held-out corpus lines, concatenated from a seeded line up to a token length
// drawn log-normal (median MEDIAN, sigma SIGMA, clipped to [MIN, MAX]) with the model's tokenizer; one in
// OUTPUT_EVERY is a model output (a prompt and its answer), so the hallucination check runs.
//   one-pass   Salience's model port (salienceModelOn, production answer bounds) in the worker's batches
//              of BATCH; tokens from the native scorer's report (prefix once, then text + closing + answer)
//   four-call  the same port with onePass withheld, one input per call, on every FOUR_CALL_EVERY-th input
//              (11 is prime to OUTPUT_EVERY, so one in four of them is an output too):
//              the perplexity pass (native scorer's report) plus what node-llama-cpp decodes for each prompt
//              (each sequence's tokenMeter, through OpenLanguageModel.completionTokens)
//   plain      the perplexity of the same texts (the scorer's windows after BOS), batch by batch on a second
//              load of the model, interleaved with the night's batches: what the texts cost with no answer
// Headlines: one-pass tokens per input token (target <= 1.3) and plain / one-pass wall time (target >= 0.6),
// each the worst of the shapes measured. Input tokens are the texts' own (BOS and the prompt not counted).
// Both shapes took 20 minutes here under a neighbour's load (load average 1-5); BENCH_INSTRUCT_SHAPES=v152k halves it.
import { existsSync, mkdirSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Effect } from "effect";
import type { Measurement } from "../../actors/salience/ports.ts";
import { openEmbedder } from "../../adapters/llm/embedding.ts";
import { type OpenLanguageModel, openLanguageModel } from "../../adapters/llm/model.ts";
import { readManifest } from "../../adapters/llm/native/build.ts";
import type { OnePassBatch } from "../../adapters/llm/ports.ts";
import { ONE_PASS_ANSWER, salienceModelOn } from "../../adapters/llm/salience-model.ts";
import { prng } from "../../adapters/llm/tiny/corpusgen/generate.ts";
import { INSTRUCT_SHAPES, writeInstructLlama } from "../../adapters/llm/tiny/instruct.ts";
import type { RandomLlamaShape } from "../../adapters/llm/tiny/random.ts";
import { corpusLines, tinyModels, TOPICS } from "../adapters/llm/support.ts";
import { peakRssMiB, writeBenchResult } from "./support/result.ts";

const THREADS = 2, CONTEXT = 4096, BATCH = 16, SEED = 15;
const INPUTS = Number(process.env.BENCH_INSTRUCT_INPUTS ?? 200);
const MEDIAN = 400, SIGMA = 0.8, MIN = 50, MAX = 2000, OUTPUT_EVERY = 4, FOUR_CALL_EVERY = 11;
const BUCKETS = [[50, 200], [200, 500], [500, 1000], [1000, 2000]] as const;
const SHAPES = (process.env.BENCH_INSTRUCT_SHAPES ?? "v152k,v32k").split(",") as Array<keyof typeof INSTRUCT_SHAPES>;
const PROMPTS = TOPICS.map((t) => `Write a few paragraphs about ${t.replace("-", " ")}.`);
const dir = join(tmpdir(), "sophont-bench-models");

const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e);
const seconds = (t0: number) => (performance.now() - t0) / 1000;
const round = (x: number, digits = 3) => Number(x.toFixed(digits));

const modelPath = (label: string, s: RandomLlamaShape) => {
  const path = join(dir, `instruct-${label}-v${s.vocabSize}-d${s.dim}-l${s.layers}-s${s.seed}.gguf`);
  if (!existsSync(path)) {
    const t0 = performance.now();
    writeInstructLlama(path, s);
    console.log(`wrote ${path} in ${seconds(t0).toFixed(1)} s`);
  }
  return path;
};

/** Log-normal lengths by Box-Muller on the project's seeded generator, clipped to [MIN, MAX]. */
const drawLengths = (n: number): number[] => {
  const rand = prng(SEED);
  return Array.from({ length: n }, () => {
    const z = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    return Math.min(MAX, Math.max(MIN, Math.round(MEDIAN * Math.exp(SIGMA * z))));
  });
};

interface NightInput { readonly text: string; readonly prompt: string | null; readonly target: number; readonly tokens: number }

/**
 * Each input: held-out lines from a seeded start, cyclically, as many words as keep it within its
 * target length in the model's tokens (a binary search over the word count).
 */
const drawNight = async (lm: OpenLanguageModel, lengths: readonly number[]): Promise<NightInput[]> => {
  const words = TOPICS.flatMap((t) => corpusLines("heldout", t)).join(" ").split(/\s+/);
  const bos = (await run(lm.tokenize(""))).length;
  const count = async (text: string) => (await run(lm.tokenize(text))).length - bos;
  const rand = prng(SEED + 1);
  const night: NightInput[] = [];
  for (const [i, target] of lengths.entries()) {
    const start = Math.floor(rand() * words.length);
    const textOf = (k: number) => Array.from({ length: k }, (_, j) => words[(start + j) % words.length]).join(" ");
    let lo = 1, hi = target;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if ((await count(textOf(mid))) <= target) lo = mid; else hi = mid - 1;
    }
    const text = textOf(lo);
    night.push({ text, prompt: i % OUTPUT_EVERY === OUTPUT_EVERY - 1 ? PROMPTS[i % PROMPTS.length]! : null, target, tokens: await count(text) });
  }
  return night;
};

const bucketOf = (tokens: number) => BUCKETS.findIndex(([lo, hi]) => tokens >= lo && tokens <= hi);
const bucketLabel = (b: number) => `${BUCKETS[b]![0]}-${BUCKETS[b]![1]}`;

/** Per length bucket: inputs, input tokens, tokens evaluated and their ratio. */
const perBucket = (rows: ReadonlyArray<{ tokens: number; evaluated: number }>) =>
  Object.fromEntries(BUCKETS.map((_, b) => {
    const r = rows.filter((x) => bucketOf(x.tokens) === b);
    const input = r.reduce((n, x) => n + x.tokens, 0), evaluated = r.reduce((n, x) => n + x.evaluated, 0);
    return [bucketLabel(b), { inputs: r.length, inputTokens: input, evaluated, perInputToken: input === 0 ? null : round(evaluated / input) }];
  }));

const quantile = (xs: readonly number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

const measureShape = async (label: keyof typeof INSTRUCT_SHAPES) => {
  const shape = INSTRUCT_SHAPES[label];
  const lm = await run(openLanguageModel({ modelPath: modelPath(label, shape), contextSize: CONTEXT, threads: THREADS, probe: false }));
  const embedder = await run(openEmbedder({ modelPath: tinyModels().embedderPath, threads: 1, probe: false }));
  if (lm.onePass === null || lm.evaluatedTokens === null) throw new Error(`the one-pass path is not available here (scorer: ${JSON.stringify(lm.scorer)})`);
  const night = await drawNight(lm, drawLengths(INPUTS));
  const texts = night.map((x) => x.text);
  const inputTokens = night.reduce((n, x) => n + x.tokens, 0);

  // The one-pass port, keeping the scorer's report of every batch.
  const batches: OnePassBatch[] = [];
  let onePassMs = 0;
  const recording = Object.create(lm) as OpenLanguageModel;
  Object.defineProperty(recording, "onePass", {
    value: (...a: Parameters<NonNullable<OpenLanguageModel["onePass"]>>) => Effect.suspend(() => {
      const t = performance.now();
      return lm.onePass!(...a).pipe(Effect.tap((b) => Effect.sync(() => { batches.push(b); onePassMs += performance.now() - t; })));
    }),
  });
  const onePass = salienceModelOn(recording, embedder);
  // Warm-up: pages the weights in, builds the grammar and the boolean probes (once per model).
  await onePass.measure([{ text: night[0]!.text, prompt: null }]);
  batches.length = 0;
  onePassMs = 0;

  // The perplexity call clears the prefix the warm-up kept: the night decodes it once.
  await run(lm.perplexity([night[0]!.text]));

  // The night on the one-pass path, in the worker's batches, interleaved batch by batch (in alternating
  // order) with the plain evaluation of the same texts on a second load of the model (its own scorer,
  // so the kept prefix stays): a neighbour's load on this shared machine then weighs on both alike.
  const plainLm = await run(openLanguageModel({ modelPath: modelPath(label, shape), contextSize: CONTEXT, threads: THREADS, probe: false }));
  await run(plainLm.perplexity([night[0]!.text]));
  const loadBefore = loadavg()[0]!;
  const before = lm.evaluatedTokens;
  const measured: Measurement[] = [];
  let plainS = 0, nightS = 0;
  for (let i = 0; i < night.length; i += BATCH) {
    const batch = night.slice(i, i + BATCH);
    const plain = async () => { const t0 = performance.now(); await run(plainLm.perplexity(batch.map((x) => x.text))); plainS += seconds(t0); };
    const pass = async () => { const t0 = performance.now(); measured.push(...(await onePass.measure(batch.map(({ text, prompt }) => ({ text, prompt }))))); nightS += seconds(t0); };
    if ((i / BATCH) % 2 === 0) { await plain(); await pass(); } else { await pass(); await plain(); }
  }
  const loadAfter = loadavg()[0]!;
  await plainLm.dispose();
  const evaluated = lm.evaluatedTokens! - before;
  const items = batches.flatMap((b) => b.items);
  const rows = night.map((x, i) => ({ tokens: x.tokens, evaluated: measured[i]!.evaluation!.tokensEvaluated }));
  const prefixEvaluated = batches.reduce((n, b) => n + b.prefixEvaluated, 0);
  const stops = items.reduce<Record<string, number>>((m, x) => ({ ...m, [x.stop]: (m[x.stop] ?? 0) + 1 }), {});
  const answerTokens = items.map((x) => x.answerTokens), closingTokens = items.map((x) => x.closingTokens);
  const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

  // The four-call path on the subsample, one input per call so each input's tokens are its own.
  // The counters are read through `withheld`: its generateJson calls count on it.
  const withheld = Object.defineProperty(Object.create(lm) as OpenLanguageModel, "onePass", { value: null });
  const fourCall = salienceModelOn(withheld, embedder);
  const sample = night.filter((_, i) => i % FOUR_CALL_EVERY === 0);
  const fourRows: Array<{ tokens: number; evaluated: number; perplexity: number; completion: number }> = [];
  const t0 = performance.now();
  for (const x of sample) {
    const scored = withheld.evaluatedTokens!, completed = withheld.completionTokens;
    await fourCall.measure([{ text: x.text, prompt: x.prompt }]);
    const perplexity = withheld.evaluatedTokens! - scored, completion = withheld.completionTokens - completed;
    fourRows.push({ tokens: x.tokens, evaluated: perplexity + completion, perplexity, completion });
  }
  const fourS = seconds(t0);
  const sampleTokens = sum(sample.map((x) => x.tokens));
  const sampleOnePass = sum(rows.filter((_, i) => i % FOUR_CALL_EVERY === 0).map((r) => r.evaluated));

  const figure = {
    shape,
    contextSize: CONTEXT, threads: THREADS, batchSize: BATCH,
    lengths: {
      distribution: `log-normal, median ${MEDIAN}, sigma ${SIGMA}, clipped to ${MIN}-${MAX} tokens, seed ${SEED}`,
      inputs: night.length, inputTokens, outputs: night.filter((x) => x.prompt !== null).length,
      drawn: { min: Math.min(...night.map((x) => x.tokens)), p25: quantile(night.map((x) => x.tokens), 0.25), median: quantile(night.map((x) => x.tokens), 0.5), p75: quantile(night.map((x) => x.tokens), 0.75), max: Math.max(...night.map((x) => x.tokens)), mean: Math.round(inputTokens / night.length) },
      perBucket: Object.fromEntries(BUCKETS.map((_, b) => [bucketLabel(b), night.filter((x) => bucketOf(x.tokens) === b).length])),
    },
    answerBounds: ONE_PASS_ANSWER,
    onePass: {
      evaluated, perInputToken: round(evaluated / inputTokens),
      source: "the native scorer's report (NativeScorer.evaluatedTokens: prefix + per input text + closing + answer tokens put through llama_decode)",
      prefixTokens: batches[0]?.prefixTokens ?? null, prefixEvaluated,
      textTokens: sum(items.map((x) => x.textTokens)), closingTokens: sum(closingTokens), answerTokens: sum(answerTokens),
      answerTokensPerInput: { mean: round(sum(answerTokens) / items.length, 1), min: Math.min(...answerTokens), max: Math.max(...answerTokens) },
      closingTokensPerInput: { min: Math.min(...closingTokens), max: Math.max(...closingTokens) },
      stops, methods: items.reduce<Record<string, number>>((m, x) => ({ ...m, [x.method]: (m[x.method] ?? 0) + 1 }), {}),
      perBucket: perBucket(rows),
    },
    fourCall: {
      subsample: `every ${FOUR_CALL_EVERY}th input of the night (${sample.length} inputs, ${sample.filter((x) => x.prompt !== null).length} of them outputs, ${sampleTokens} input tokens), one measure call each`,
      evaluated: sum(fourRows.map((r) => r.evaluated)), perInputToken: round(sum(fourRows.map((r) => r.evaluated)) / sampleTokens),
      perplexityTokens: sum(fourRows.map((r) => r.perplexity)), completionTokens: sum(fourRows.map((r) => r.completion)),
      source: "perplexity: the native scorer's report; the prompts: node-llama-cpp's tokenMeter per sequence (input + output tokens decoded)",
      onePassOnSameInputs: round(sampleOnePass / sampleTokens),
      perBucket: perBucket(fourRows),
      seconds: round(fourS, 1), secondsPerInput: round(fourS / sample.length, 2),
    },
    wall: { plainS: round(plainS, 2), nightS: round(nightS, 2), onePassS: round(onePassMs / 1000, 2), ratio: round(plainS / nightS), plainTokPerS: Math.round(inputTokens / plainS), nightInputTokPerS: Math.round(inputTokens / nightS),
      // A neighbour's load on this shared machine slows the night's small lockstep decodes most (llama.cpp's threads spin).
      loadAverage: { before: round(loadBefore, 2), after: round(loadAfter, 2) } },
  };
  console.log(`${label}:`, JSON.stringify(figure, null, 1));
  await embedder.dispose();
  await lm.dispose();
  return figure;
};

mkdirSync(dir, { recursive: true });
const shapes: Record<string, Awaited<ReturnType<typeof measureShape>>> = {};
for (const label of SHAPES) shapes[label] = await measureShape(label);
const all = Object.entries(shapes);
const worstTokens = Math.max(...all.map(([, f]) => f.onePass.perInputToken));
const worstWall = Math.min(...all.map(([, f]) => f.wall.ratio));
const common = { nativeBuild: readManifest(), peakRssMiB: peakRssMiB() };
const byShape = (f: (x: (typeof all)[number][1]) => string) => all.map(([l, x]) => `${l}: ${f(x)}`).join("; ");
writeBenchResult({
  name: "instruct-night",
  ratio: worstTokens,
  target: 1.3,
  better: "lower",
  figures: { ...common, shapes },
  summary: `tokens evaluated per input token over a night of ${INPUTS} inputs (log-normal lengths, median ${MEDIAN}, ${MIN}-${MAX}; 1 in ${OUTPUT_EVERY} a model output) on the random-weight ChatML model, one-pass path, worst shape: ` +
    byShape((x) => `${x.onePass.perInputToken} (buckets ${Object.values(x.onePass.perBucket).map((b) => b.perInputToken ?? "-").join(" / ")}), four-call path ${x.fourCall.perInputToken} on ${x.fourCall.subsample.split(" (")[0]}`),
});
writeBenchResult({
  name: "instruct-night-wall",
  ratio: worstWall,
  target: 0.6,
  better: "higher",
  figures: { ...common, shapes: Object.fromEntries(all.map(([l, x]) => [l, { shape: x.shape, inputTokens: x.lengths.inputTokens, ...x.wall, fourCallSecondsPerInput: x.fourCall.secondsPerInput }])) },
  summary: `one plain evaluation (native perplexity) of the night's texts / the night on the one-pass path (answers, embeddings included), ${THREADS} threads, worst shape: ` +
    byShape((x) => `${x.wall.ratio} (${x.wall.plainS} s / ${x.wall.nightS} s for ${x.lengths.inputTokens} tokens)`),
});
