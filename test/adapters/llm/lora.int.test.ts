import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Effect } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readGguf } from "../../../adapters/llm/gguf/reader.ts";
import { type OpenLanguageModel, openLanguageModel } from "../../../adapters/llm/model.ts";
import { boostTokensAdapter, writeLoraAdapter } from "../../../adapters/llm/tiny/lora.ts";
import { tinyModels } from "./support.ts";

let lm: OpenLanguageModel;
const dir = mkdtempSync(join(tmpdir(), "sophont-lora-"));
const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e);
const text = "The skipper trimmed the mainsail as the wind freshened. The cook stirred the soup.";

beforeAll(async () => {
  lm = await run(openLanguageModel({ modelPath: tinyModels().lmPath, contextSize: 256, threads: 1 }));
});
afterAll(() => lm?.dispose());

const vocabSize = () => {
  const v = readGguf(tinyModels().lmPath).metadata.get("tokenizer.ggml.tokens");
  return v?.kind === "array" ? v.value.length : 0;
};

describe("LoRA adapters", () => {
  it("change the log-probabilities when active and restore them exactly when unloaded", async () => {
    const [base] = await run(lm.perplexity([text], { surprisal: true }));
    const skipper = base!.surprisal![1]!.token; // "skipper", a token the adapter will favour
    const path = join(dir, "boost.gguf");
    writeLoraAdapter(path, boostTokensAdapter(vocabSize(), [skipper], 3));
    const adapter = await run(lm.loadAdapter(path, 1));
    expect(adapter.id).toMatch(/^[0-9a-f]{64}$/);

    await run(lm.useAdapter(adapter.id));
    expect(lm.activeAdapter).toBe(adapter.id);
    const [adapted] = await run(lm.perplexity([text], { surprisal: true }));
    const b = base!.surprisal!, a = adapted!.surprisal!;
    expect(a[1]!.nll).toBeLessThan(b[1]!.nll - 1); // boosted by ~3 nats of logit
    expect(a[3]!.nll).toBeGreaterThan(b[3]!.nll); // every other token lost a little mass

    const half = await run(lm.loadAdapter(path, 0.5));
    expect(half.id).toBe(adapter.id);

    await run(lm.useAdapter(null));
    expect(lm.activeAdapter).toBeNull();
    const [restored] = await run(lm.perplexity([text], { surprisal: true }));
    expect(restored!.surprisal!.map((x) => x.nll)).toEqual(b.map((x) => x.nll));
  });

  it("rejects unknown ids and files that are not adapters of this architecture", async () => {
    const bad = await Effect.runPromiseExit(lm.useAdapter("0".repeat(64)));
    expect(JSON.stringify(bad)).toContain("not loaded");
    const notAdapter = await Effect.runPromiseExit(lm.loadAdapter(tinyModels().lmPath));
    expect(JSON.stringify(notAdapter)).toContain("not \\\"adapter\\\"");
    const junk = join(dir, "junk.gguf");
    writeFileSync(junk, "junk");
    expect(JSON.stringify(await Effect.runPromiseExit(lm.loadAdapter(junk)))).toContain("AdapterError");
    const other = join(dir, "other-arch.gguf");
    writeLoraAdapter(other, { ...boostTokensAdapter(vocabSize(), [5], 1), architecture: "qwen2" });
    expect(JSON.stringify(await Effect.runPromiseExit(lm.loadAdapter(other)))).toContain("does not match");
  });
});
