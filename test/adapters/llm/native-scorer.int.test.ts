import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Effect } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readGguf, readTensorF32 } from "../../../adapters/llm/gguf/reader.ts";
import { type OpenLanguageModel, openLanguageModel } from "../../../adapters/llm/model.ts";
import { buildNativeScorer } from "../../../adapters/llm/native/build.ts";
import { NativeScorer } from "../../../adapters/llm/native/scorer.ts";
import type { PerplexityResult } from "../../../adapters/llm/ports.ts";
import { llamaRuntime } from "../../../adapters/llm/runtime.ts";
import { boostTokensAdapter, writeLoraAdapter } from "../../../adapters/llm/tiny/lora.ts";
import { corpusLines, tinyModels, TOPICS } from "./support.ts";

const build = await buildNativeScorer();
if (!build.ok) console.warn(`[native scorer] SKIPPED: the addon cannot be built here: ${build.reason} (${build.hint})`);

const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e);
const open = (forcePublic: boolean) => {
  const before = process.env.SOPHONT_NATIVE_SCORER;
  if (forcePublic) process.env.SOPHONT_NATIVE_SCORER = "0";
  else delete process.env.SOPHONT_NATIVE_SCORER;
  return run(openLanguageModel({ modelPath: tinyModels().lmPath, contextSize: 512, threads: 1, probe: false }))
    .finally(() => (before === undefined ? delete process.env.SOPHONT_NATIVE_SCORER : (process.env.SOPHONT_NATIVE_SCORER = before)));
};

let native: OpenLanguageModel, pub: OpenLanguageModel;
const long = TOPICS.map((t) => corpusLines("heldout", t).slice(20, 26).join(" ")).join(" ");
const texts = [...TOPICS.map((t) => corpusLines("heldout", t).slice(0, 8).join(" ")), long];

/** The public path sums float32 exponentials over the vocabulary in order, so its per-token values are only good to about
 * this (up to 1.2e-5 off the compiled bigram table here), and its perplexity to about 1e-6; the native one is within 6.3e-7
 * of the table (the RMS-norm epsilon's share), its log-softmax itself within about 1e-8 of a double one. */
const PUBLIC_NLL_TOLERANCE = 5e-5;

const expectSame = (a: readonly PerplexityResult[], b: readonly PerplexityResult[], nllTolerance: number) => {
  a.forEach((r, i) => {
    expect(r.tokenCount).toBe(b[i]!.tokenCount);
    expect(Math.abs(r.perplexity - b[i]!.perplexity) / b[i]!.perplexity).toBeLessThan(2e-6); // measured 9.8e-7
    r.surprisal!.forEach((x, k) => {
      expect(x.token).toBe(b[i]!.surprisal![k]!.token);
      expect(Math.abs(x.nll - b[i]!.surprisal![k]!.nll)).toBeLessThan(nllTolerance);
    });
  });
};

describe.skipIf(!build.ok)("native perplexity scorer", () => {
  beforeAll(async () => {
    [native, pub] = [await open(false), await open(true)];
  });
  afterAll(async () => { await native?.dispose(); await pub?.dispose(); });

  it("is what the model service uses, unless SOPHONT_NATIVE_SCORER=0 forces the public path", () => {
    expect(native.scorer.kind).toBe("native");
    expect(pub.scorer).toEqual({ kind: "public", reason: "SOPHONT_NATIVE_SCORER=0" });
  });

  it("returns the exact log-softmax of the compiled bigram logits (1e-6)", async () => {
    const path = tinyModels().lmPath;
    const out = readTensorF32(path, readGguf(path), "output.weight");
    const n = Math.round(Math.sqrt(out.length));
    const [r] = await run(native.perplexity([texts[0]!], { surprisal: true }));
    const ids = [2, ...r!.surprisal!.map((x) => x.token)]; // [CLS] (BOS) then the scored tokens
    r!.surprisal!.forEach(({ token, nll }, i) => {
      const logits = Array.from({ length: n }, (_, j) => out[j * n + ids[i]!]!);
      const max = Math.max(...logits);
      const lse = max + Math.log(logits.reduce((a, l) => a + Math.exp(l - max), 0));
      expect(Math.abs(nll - (lse - logits[token]!))).toBeLessThan(1e-6);
    });
  });

  it("equals the public path, single pass and sliding window", async () => {
    for (const opts of [{ surprisal: true }, { surprisal: true, window: 64, stride: 24 }]) {
      const [a, b] = [await run(native.perplexity(texts, opts)), await run(pub.perplexity(texts, opts))];
      expectSame(a, b, PUBLIC_NLL_TOLERANCE);
      const rel = a.map((r, i) => Math.abs(r.perplexity - b[i]!.perplexity) / b[i]!.perplexity);
      console.log(`[native scorer] vs public (${opts.window ?? "single pass"}): worst relative perplexity difference ${Math.max(...rel).toExponential(2)}`);
    }
  });

  it("applies the same LoRA adapter as the service, and unloading restores the base exactly", async () => {
    const [base] = await run(native.perplexity([long], { surprisal: true }));
    const vocab = readGguf(tinyModels().lmPath).metadata.get("tokenizer.ggml.tokens");
    const path = join(mkdtempSync(join(tmpdir(), "sophont-native-lora-")), "boost.gguf");
    const nlls = base!.surprisal!.map((x) => x.nll);
    const k = nlls.indexOf(Math.max(...nlls)); // the least likely target gains the most from a boost
    writeLoraAdapter(path, boostTokensAdapter(vocab?.kind === "array" ? vocab.value.length : 0, [base!.surprisal![k]!.token], 3));
    for (const lm of [native, pub]) await run(lm.useAdapter((await run(lm.loadAdapter(path, 0.7))).id));
    const [a, b] = [await run(native.perplexity([long], { surprisal: true })), await run(pub.perplexity([long], { surprisal: true }))];
    expect(a[0]!.surprisal![k]!.nll).toBeLessThan(base!.surprisal![k]!.nll - 1);
    expectSame(a, b, PUBLIC_NLL_TOLERANCE);
    await run(native.useAdapter(null));
    const [restored] = await run(native.perplexity([long], { surprisal: true }));
    expect(restored!.surprisal!.map((x) => x.nll)).toEqual(base!.surprisal!.map((x) => x.nll));
  });

  it("packs short windows into one batch and chunks long ones, with the scores of one window at a time", async () => {
    const llama = await llamaRuntime();
    const s = await NativeScorer.require(llama, { gpuLayers: 0, contextSize: 128, batchSize: 32, threads: 1, flashAttention: false, modelPath: tinyModels().lmPath });
    try {
      // 30 texts of 3 to 100 tokens: the short ones share batches, those over 31 (+ BOS) go alone in chunks.
      const texts = Array.from({ length: 30 }, (_, i) => Array.from({ length: 3 + ((i * 37) % 98) }, (_, k) => 4 + ((i * 13 + k * 7) % 200)));
      const all: number[] = [];
      const windows: Array<{ start: number; end: number; scoreFrom: number }> = [];
      for (const t of texts) {
        windows.push({ start: all.length, end: all.length + t.length, scoreFrom: all.length });
        all.push(...t);
      }
      const packed = Array.from(await s.logProbs(all, windows, 2));
      const alone: number[] = [];
      for (const t of texts) alone.push(...(await s.logProbs(t, [{ start: 0, end: t.length, scoreFrom: 0 }], 2)));
      expect(texts.some((t) => t.length > 31) && texts.filter((t) => t.length < 16).length > 2).toBe(true);
      expect(packed).toHaveLength(all.length);
      // Equal here to the last bit; the bound allows another CPU's kernels a float32 rounding, while a
      // position read from the wrong row of a pack would be off by whole nats.
      packed.forEach((lp, i) => expect(Math.abs(lp - alone[i]!)).toBeLessThan(1e-6));
    } finally {
      await s.dispose();
    }
  });

  it("turns a bad model path, a bad token and a window larger than the context into errors", async () => {
    const llama = await llamaRuntime();
    const opts = { gpuLayers: 0, contextSize: 64, batchSize: 64, threads: 1, flashAttention: false };
    const missing = await NativeScorer.open(llama, { ...opts, modelPath: "/nonexistent/model.gguf" });
    expect(missing).toEqual({ reason: "llama.cpp could not load the model /nonexistent/model.gguf" });
    const s = await NativeScorer.require(llama, { ...opts, modelPath: tinyModels().lmPath });
    try {
      await expect(s.logProbs([5, s.vocabSize + 3], [{ start: 0, end: 2, scoreFrom: 1 }], null)).rejects.toThrow(/outside the vocabulary/);
      const n = s.contextSize; // llama.cpp rounds the 64 asked for up to its own granularity
      const tokens = Array.from({ length: n }, (_, i) => 4 + (i % 50));
      await expect(s.logProbs(tokens, [{ start: 0, end: n, scoreFrom: 0 }], 2)).rejects.toThrow(`a window of ${n + 1} tokens does not fit the context of ${n}`);
      expect((await s.logProbs(tokens, [{ start: 0, end: 60, scoreFrom: 1 }], null)).length).toBe(59); // still usable
    } finally {
      await s.dispose();
    }
    await expect(s.logProbs([5, 6], [{ start: 0, end: 2, scoreFrom: 1 }], null)).rejects.toThrow(/not loaded|disposed/);
  });
});
