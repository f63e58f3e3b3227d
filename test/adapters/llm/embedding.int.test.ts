import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Effect } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chunkTokens, type OpenEmbedder, openEmbedder } from "../../../adapters/llm/embedding.ts";
import { corpusLines, shippedCorpusDir, tinyModels } from "./support.ts";

let embedder: OpenEmbedder;
beforeAll(async () => {
  embedder = await Effect.runPromise(openEmbedder({ modelPath: tinyModels().embedderPath, threads: 1 }));
});
afterAll(() => embedder?.dispose());

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);

describe("tiny embedding model", () => {
  it("returns L2-normalised vectors of its declared dimension, mean pooled", async () => {
    const [a, b] = await Effect.runPromise(embedder.embed(["The comet faded before dawn.", "Stir the soup slowly."]));
    expect(embedder.dimension).toBe(48);
    expect(embedder.pooling).toBe("mean");
    expect(a!.length).toBe(48);
    expect(dot(a!, a!)).toBeCloseTo(1, 5);
    expect(dot(b!, b!)).toBeCloseTo(1, 5);
  });

  it("puts same-topic pairs closer than cross-topic pairs on the shipped labelled set", async () => {
    const rows = readFileSync(join(shippedCorpusDir, "pairs.tsv"), "utf8").trim().split("\n").slice(1).map((l) => l.split("\t"));
    const vecs = await Effect.runPromise(embedder.embed(rows.flatMap((r) => [r[3]!, r[4]!])));
    const same: number[] = [], cross: number[] = [];
    rows.forEach((r, i) => (r[0] === "same" ? same : cross).push(dot(vecs[2 * i]!, vecs[2 * i + 1]!)));
    const mean = (x: number[]) => x.reduce((a, b) => a + b, 0) / x.length;
    // AUC: the share of (same, cross) pairs ordered correctly.
    let ordered = 0;
    for (const s of same) for (const c of cross) ordered += s > c ? 1 : s === c ? 0.5 : 0;
    const auc = ordered / (same.length * cross.length);
    console.log(`[embedding] ${same.length} same / ${cross.length} cross pairs: mean cosine ${mean(same).toFixed(3)} vs ${mean(cross).toFixed(3)}, margin ${(mean(same) - mean(cross)).toFixed(3)}, AUC ${auc.toFixed(3)}`);
    expect(mean(same) - mean(cross)).toBeGreaterThan(0.25);
    expect(auc).toBeGreaterThan(0.9);
  });

  it("embeds texts from 1 to 20,000 tokens: longer than the context, in chunks that fit with the specials, pooled", async () => {
    const words = corpusLines("heldout", "astronomy").join(" ").split(/\s+/);
    const text = (n: number) => Array.from({ length: n }, (_, i) => words[i % words.length]).join(" ");
    // 505-512 words are what node-llama-cpp refused once [CLS]/[SEP] were added to a cut at contextSize - 1.
    const sizes = [1, 2, 400, 505, 509, 510, 511, 512, 513, 1023, 1024, 1025, 5000, 20_000];
    const vecs = await Effect.runPromise(embedder.embed(sizes.map(text)));
    vecs.forEach((v) => expect(dot(v, v)).toBeCloseTo(1, 5));
    // One paragraph said 40 times over (several chunks) points where the paragraph does.
    const paragraph = corpusLines("heldout", "astronomy").slice(0, 3).join(" ");
    const [once, often, other] = await Effect.runPromise(embedder.embed([paragraph, Array(40).fill(paragraph).join(" "), corpusLines("heldout", "cooking").slice(0, 3).join(" ")]));
    expect(dot(once!, often!)).toBeGreaterThan(0.98);
    expect(dot(once!, often!)).toBeGreaterThan(dot(once!, other!) + 0.1);
  }, 120_000);
});

describe("chunkTokens", () => {
  const tokens = Array.from({ length: 1000 }, (_, i) => i) as never as Parameters<typeof chunkTokens>[0];
  it("cuts consecutive chunks of at most the room, covering every token once", () => {
    const chunks = chunkTokens(tokens, 300, () => true);
    expect(chunks.map((c) => c.length)).toEqual([300, 300, 300, 100]);
    expect(chunks.flat()).toEqual(tokens);
  });
  it("halves a chunk the model refuses until it fits, and says why when a single token never does", () => {
    const chunks = chunkTokens(tokens, 300, (c) => c.length <= 120);
    expect(Math.max(...chunks.map((c) => c.length))).toBeLessThanOrEqual(120);
    expect(chunks.flat()).toEqual(tokens);
    expect(() => chunkTokens(tokens, 300, () => false)).toThrow(/does not fit/);
  });
});
