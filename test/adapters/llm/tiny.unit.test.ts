import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { planWindows, summarise } from "../../../adapters/llm/perplexity.ts";
import { readGguf, readTensorF32 } from "../../../adapters/llm/gguf/reader.ts";
import { prng } from "../../../adapters/llm/tiny/corpusgen/generate.ts";
import { defaultEmbedderOptions, wordVectors } from "../../../adapters/llm/tiny/embedder.ts";
import { makeTinyModels, readTrainingLines, shippedCorpusDir } from "../../../adapters/llm/tiny/factory.ts";
import { bigramTable } from "../../../adapters/llm/tiny/lm.ts";
import { buildVocabulary, countWords, encode } from "../../../adapters/llm/tiny/vocab.ts";

const lines = ["The comet rose.", "The cook stirs the soup.", "The comet faded!"];
const vocab = buildVocabulary(countWords(lines));

describe("tiny bigram LM compiler", () => {
  it("gives every context a proper distribution that prefers what followed it", () => {
    const table = bigramTable(vocab, lines);
    for (let prev = 0; prev < table.size; prev++) {
      let sum = 0;
      for (let next = 0; next < table.size; next++) sum += Math.exp(table.logProb[prev * table.size + next]!);
      expect(sum).toBeCloseTo(1, 9);
    }
    const the = vocab.index.get("the")!, comet = vocab.index.get("comet")!, soup = vocab.index.get("soup")!;
    expect(table.logProb[the * table.size + comet]!).toBeGreaterThan(table.logProb[the * table.size + soup]!);
  });

  it("tokenises like the GGUF's WordPiece: lowercase words, punctuation apart, unknown words as [UNK]", () => {
    expect(encode(vocab, "The COMET, zebra!")).toEqual([vocab.index.get("the"), vocab.index.get("comet"), vocab.unk, vocab.unk, vocab.index.get("!")]);
  });
});

describe("perplexity windows", () => {
  it("scores every target exactly once with at least size - stride tokens of context after the first window", () => {
    for (const [n, size, stride, bos] of [[10, 4, 2, true], [100, 16, 5, false], [3, 8, 4, true], [17, 17, 1, false]] as const) {
      const windows = planWindows(n, size, stride, bos);
      const targets = windows.flatMap((w) => Array.from({ length: w.end - w.scoreFrom }, (_, i) => w.scoreFrom + i));
      expect(targets).toEqual(Array.from({ length: n - (bos ? 0 : 1) }, (_, i) => i + (bos ? 0 : 1)));
      windows.forEach((w, i) => {
        expect(w.end - w.start).toBeLessThanOrEqual(size);
        if (i > 0) expect(w.scoreFrom - w.start).toBeGreaterThanOrEqual(size - stride);
      });
    }
  });

  it("summarises negative log-likelihoods into perplexity", () => {
    const r = summarise([5, 6], [Math.log(4), Math.log(16)], true);
    expect(r.perplexity).toBeCloseTo(8, 12);
    expect(r.tokenCount).toBe(2);
    expect(r.surprisal).toEqual([{ token: 5, nll: Math.log(4) }, { token: 6, nll: Math.log(16) }]);
    expect(summarise([], [], false)).toEqual({ perplexity: 1, meanNll: 0, tokenCount: 0 });
  });
});

describe("PPMI + SVD word vectors", () => {
  it("are deterministic and give co-occurring topic words similar directions", () => {
    const { lines: train } = readTrainingLines(shippedCorpusDir);
    const v = buildVocabulary(countWords(train));
    const k = defaultEmbedderOptions.dimension;
    const a = wordVectors(v, train, defaultEmbedderOptions, prng(7));
    expect(wordVectors(v, train, defaultEmbedderOptions, prng(7))).toEqual(a);
    const vec = (w: string) => a.subarray(v.index.get(w)! * k, (v.index.get(w)! + 1) * k);
    const cos = (x: Float32Array, y: Float32Array) => x.reduce((s, xi, i) => s + xi * y[i]!, 0) / Math.hypot(...x) / Math.hypot(...y);
    expect(cos(vec("telescope"), vec("nebula"))).toBeGreaterThan(cos(vec("telescope"), vec("soup")) + 0.3);
    expect(Math.hypot(...vec("the"))).toBe(0); // a function word carries no topic
  });
});

describe("tiny model factory", () => {
  it("is deterministic and cached by corpus + code hash", () => {
    const out = mkdtempSync(join(tmpdir(), "sophont-tiny-"));
    const first = makeTinyModels({ corpusDir: shippedCorpusDir, outDir: out });
    const again = makeTinyModels({ corpusDir: shippedCorpusDir, outDir: out });
    expect(first.cached).toBe(false);
    expect(again).toEqual({ ...first, cached: true });
    const lm = readGguf(first.lmPath);
    const v = lm.metadata.get("tokenizer.ggml.tokens");
    const n = v?.kind === "array" ? v.value.length : 0;
    expect(lm.tensors.find((t) => t.name === "output.weight")?.shape).toEqual([n, n]);
    const embd = readTensorF32(first.lmPath, lm, "token_embd.weight");
    expect(embd[5 * n + 5]).toBe(1); // one-hot rows
    expect(embd.reduce((s, x) => s + x, 0)).toBe(n);
  });
});
