import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Effect, Exit } from "effect";
import { describe, expect, it } from "vitest";
import { writeGguf } from "../../../adapters/llm/gguf/writer.ts";
import { openLanguageModel } from "../../../adapters/llm/model.ts";
import { probeInChild, probeModel } from "../../../adapters/llm/probe.ts";
import { tinyLlamaMetadata, tinyLlamaTensors } from "../../../adapters/llm/tiny/llama.ts";
import { buildVocabulary, countWords } from "../../../adapters/llm/tiny/vocab.ts";
import { tinyModels } from "./support.ts";

const dir = mkdtempSync(join(tmpdir(), "sophont-probe-"));

/** A small valid llama GGUF with some metadata keys removed. */
const modelWithout = (name: string, ...drop: string[]): string => {
  const vocab = buildVocabulary(countWords(["the comet rose"]));
  const d = vocab.tokens.length;
  const spec = {
    name, vocab, dim: d, tokenEmbedding: new Float32Array(d * d), outputNorm: new Float32Array(d).fill(1),
    contextLength: 64, rmsEpsilon: 1e-6,
  };
  const meta = tinyLlamaMetadata(spec);
  for (const k of drop) meta.delete(k);
  const path = join(dir, `${name}.gguf`);
  writeGguf(path, meta, tinyLlamaTensors(spec));
  return path;
};

const failure = async (e: Effect.Effect<unknown, unknown>) => {
  const exit = await Effect.runPromiseExit(e);
  expect(Exit.isFailure(exit)).toBe(true);
  return JSON.stringify(exit);
};

describe("probing GGUF files before loading them", () => {
  it("passes the tiny models", async () => {
    await Effect.runPromise(probeModel(tinyModels().lmPath, "generation"));
    await Effect.runPromise(probeModel(tinyModels().embedderPath, "embedding"));
  });

  it("turns a truncated file into a ModelProbeError naming the problem", async () => {
    const bytes = readFileSync(tinyModels().lmPath);
    const cut = join(dir, "truncated.gguf");
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const msg = await failure(openLanguageModel({ modelPath: cut }));
    expect(msg).toContain("ModelProbeError");
    expect(msg).toMatch(/truncated/);
  });

  it("names missing keys that would make llama.cpp abort", async () => {
    const msg = await failure(probeModel(modelWithout("no-heads", "llama.attention.head_count")));
    expect(msg).toContain("missing metadata llama.attention.head_count");
    expect(await failure(probeModel(join(dir, "absent.gguf")))).toContain("file not found");
  });

  it("survives llama.cpp aborting the process (GGML_ASSERT) in the child", async () => {
    const path = modelWithout("no-ffn", "llama.feed_forward_length");
    const r = await probeInChild(path, "generation", 60_000);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      console.log(`[probe] ${r.reason}`);
      expect(r.reason).toMatch(/crashed|refused/);
    }
    expect(process.pid).toBeGreaterThan(0); // still here
  });
});
