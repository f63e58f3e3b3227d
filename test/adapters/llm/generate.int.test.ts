import { Effect } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenLanguageModel, openLanguageModel } from "../../../adapters/llm/model.ts";
import { tinyModels } from "./support.ts";

let lm: OpenLanguageModel;
beforeAll(async () => {
  lm = await Effect.runPromise(openLanguageModel({ modelPath: tinyModels().lmPath, contextSize: 256, threads: 1 }));
});
afterAll(() => lm?.dispose());

const verdict = {
  type: "object",
  properties: {
    verdict: { enum: ["coherent", "incoherent"] },
    confidence: { type: "number" },
    reason: { type: "string", maxLength: 40 },
  },
} as const;
const question = {
  type: "object",
  properties: {
    question: { type: "string", maxLength: 60 },
    topics: { type: "array", items: { enum: ["astronomy", "cooking", "sailing", "other"] }, maxItems: 3 },
    keep: { type: "boolean" },
  },
} as const;

/** An independent check of what the two schemas demand (not the grammar's own parser). */
const conforms = (schema: typeof verdict | typeof question, v: unknown): boolean => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  if (Object.keys(o).sort().join() !== Object.keys(schema.properties).sort().join()) return false;
  if (schema === verdict) {
    return (o.verdict === "coherent" || o.verdict === "incoherent") && typeof o.confidence === "number" &&
      typeof o.reason === "string" && o.reason.length <= 40;
  }
  return typeof o.question === "string" && o.question.length <= 60 && typeof o.keep === "boolean" && Array.isArray(o.topics) &&
    o.topics.length <= 3 && o.topics.every((t) => ["astronomy", "cooking", "sailing", "other"].includes(t as string));
};

describe("JSON-schema constrained generation", () => {
  it("always parses and conforms, across prompts, schemas, temperatures and seeds", async () => {
    const prompts = ["The sailor", "Is this text coherent? The comet simmered in butter.", "{ random : json"];
    let runs = 0;
    for (const prompt of prompts) {
      for (const schema of [verdict, question]) {
        for (const [temperature, seed] of [[0, undefined], [0.8, 1], [1.5, 2]] as const) {
          const r = await Effect.runPromise(lm.generateJson(prompt, schema, { maxTokens: 200, timeoutMs: 10_000, temperature, ...(seed === undefined ? {} : { seed }) }));
          expect(JSON.parse(r.text)).toEqual(r.value);
          expect(conforms(schema, r.value)).toBe(true);
          runs++;
        }
      }
    }
    expect(runs).toBe(18);
  });

  it("is deterministic at temperature 0 and replayable from the recorded seed otherwise", async () => {
    const opts = { maxTokens: 200, timeoutMs: 10_000 };
    const a = await Effect.runPromise(lm.generateJson("The cook", verdict, opts));
    const b = await Effect.runPromise(lm.generateJson("The cook", verdict, opts));
    expect(b.text).toBe(a.text);
    const c = await Effect.runPromise(lm.generateJson("The cook", question, { ...opts, temperature: 1 }));
    const d = await Effect.runPromise(lm.generateJson("The cook", question, { ...opts, temperature: 1, seed: c.seed }));
    expect(d.text).toBe(c.text);
  });

  it("fails with GenerationIncompleteError, not half a value, when the token budget runs out", async () => {
    const exit = await Effect.runPromiseExit(lm.generateJson("The sailor", question, { maxTokens: 3, timeoutMs: 10_000 }));
    expect(exit._tag).toBe("Failure");
    expect(JSON.stringify(exit)).toContain("GenerationIncompleteError");
  });
});
