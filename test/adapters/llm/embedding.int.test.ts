import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Effect } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenEmbedder, openEmbedder } from "../../../adapters/llm/embedding.ts";
import { shippedCorpusDir, tinyModels } from "./support.ts";

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
});
