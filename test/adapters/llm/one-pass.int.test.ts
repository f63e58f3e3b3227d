import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Effect } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenLanguageModel, openLanguageModel } from "../../../adapters/llm/model.ts";
import { buildNativeScorer } from "../../../adapters/llm/native/build.ts";
import { INSTRUCT_SHAPES, writeInstructLlama } from "../../../adapters/llm/tiny/instruct.ts";

const build = await buildNativeScorer();
const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e);
const schema = { type: "object", properties: { question: { type: "string", maxLength: 8 }, coherent: { type: "boolean" }, reason: { type: "string", maxLength: 8 } }, required: ["question", "coherent", "reason"] };
const texts = ["The quick brown fox jumps over the lazy dog.", "Sailing close to the wind needs a tight sheet.", "zxq qqq vvv"];
const opts = { system: "Judge the text. Answer as JSON.", maxTokens: 160, timeoutMs: 30_000, confidenceKey: "coherent" };

describe.skipIf(!build.ok)("one pass on an instruction model (random weights, ChatML)", () => {
  let lm: OpenLanguageModel;
  beforeAll(async () => {
    const path = join(mkdtempSync(join(tmpdir(), "sophont-instruct-")), "instruct.gguf");
    writeInstructLlama(path, INSTRUCT_SHAPES.test);
    lm = await run(openLanguageModel({ modelPath: path, contextSize: 4096, threads: 1, probe: false }));
  });
  afterAll(async () => { await lm?.dispose(); });

  it("answers under the grammar, reuses the prefix, and counts text + closing + answer (+ prefix once)", async () => {
    expect(lm.identity.instructionFollowing).toBe(true);
    const before = lm.evaluatedTokens!;
    const a = await run(lm.onePass!(texts.map((text) => ({ text, afterText: "", schema })), opts));
    for (const x of a.items) {
      expect(x.stop).toBe("eog");
      expect(typeof (x.value as { coherent: boolean }).coherent).toBe("boolean");
      expect(x.evaluated).toBe(x.textTokens + x.closingTokens + x.answerTokens);
    }
    expect(lm.evaluatedTokens! - before).toBe(a.prefixTokens + a.items.reduce((n, x) => n + x.evaluated, 0));
    const b = await run(lm.onePass!(texts.map((text) => ({ text, afterText: "", schema })), opts));
    expect(b.prefixEvaluated).toBe(0);
    b.items.forEach((x, i) => expect(x.perplexity.meanNll).toBeCloseTo(a.items[i]!.perplexity.meanNll, 9));
  });

  it("a budget-exhausted generation falls back for that input and the batch completes", async () => {
    const r = await run(lm.onePass!(texts.map((text) => ({ text, afterText: "", schema })), { ...opts, maxTokens: 3 }));
    for (const x of r.items) { expect(x.stop).toBe("maxTokens"); expect(x.value).toBeNull(); expect(x.evaluated).toBe(x.textTokens + x.closingTokens + x.answerTokens - 1); }
  });
});
