import { Effect } from "effect";
import type { Measurement, ModelIds, SalienceModel } from "../../actors/salience/ports.ts";
import type { Embedder, LanguageModel } from "./ports.ts";
import { inSpan } from "../../events/tracing.ts";

const QUESTION_SCHEMA = { type: "object", properties: { question: { type: "string" } }, required: ["question"] };
const VERDICT_SCHEMA = { type: "object", properties: { coherent: { type: "boolean" }, reason: { type: "string" } }, required: ["coherent", "reason"] };
const HALLUCINATION_SCHEMA = { type: "object", properties: { hallucinated: { type: "boolean" }, reason: { type: "string" } }, required: ["hallucinated", "reason"] };
const GEN = { maxTokens: 96, timeoutMs: 60_000, temperature: 0 };

/** The prompts an instruction-following Soul answers; kept short, answered as JSON under a grammar. */
export const prompts = {
  question: (text: string) => `State, as one short question, the implicit question that the following text answers.\n\nText:\n${text}\n\nAnswer as JSON.`,
  coherence: (text: string) => `Is the following text coherent, meaningful language (not noise, not word salad)?\n\nText:\n${text}\n\nAnswer as JSON.`,
  hallucination: (prompt: string, output: string) =>
    `A model was asked:\n${prompt}\n\nIt answered:\n${output}\n\nDoes the answer state things that are false or made up? Answer as JSON.`,
};

/** A distilled question worth embedding: a non-blank string, else null (the text's own embedding stands for it). */
const nonEmpty = (q: unknown): string | null => (typeof q === "string" && q.trim() !== "" ? q : null);

const run = <A>(e: Effect.Effect<A, unknown>) => Effect.runPromise(e as Effect.Effect<A, never>);

/**
 * Salience's model port on node-llama-cpp: perplexity from the scoring model, the question vector from
 * the embedding model. A model that cannot follow instructions states no question (its text's own
 * embedding stands for it) and gives no verdicts (Salience applies its documented fallbacks).
 */
export const salienceModelOn = (lm: LanguageModel, embedder: Embedder): SalienceModel => {
  const ids = (): ModelIds => ({
    model: lm.identity.sha256,
    adapter: lm.activeAdapter,
    embedder: embedder.identity.sha256,
    vocabularySize: lm.identity.vocabularySize ?? 32_000,
    instructionFollowing: lm.identity.instructionFollowing,
  });
  /**
   * One answer under the grammar, or null when the generation ran out of tokens or time (or its
   * answer did not parse): that input then takes Salience's documented fallback, with `method`
   * "fallback" in its event, and the rest of the batch is unaffected. Other model errors still fail.
   */
  const ask = async <T>(prompt: string, schema: object): Promise<T | null> =>
    run(lm.generateJson(prompt, schema, GEN).pipe(
      Effect.map((r) => r.value as T),
      Effect.catchTag("GenerationIncompleteError", () => Effect.succeed(null)),
    ));

  return {
    ids,
    embed: async (texts) => (await run(embedder.embed([...texts]))).map((v) => Array.from(v)),
    measure: async (items) => {
      const genai = (operation: string, model: { name: string | undefined; sha256: string }) => ({
        "gen_ai.operation.name": operation,
        "gen_ai.system": "llama.cpp",
        "gen_ai.request.model": model.name ?? model.sha256.slice(0, 12),
        "sophont.model.sha256": model.sha256,
        "sophont.batch.size": items.length,
      });
      const ppl = await inSpan("Model.perplexity", undefined, genai("text_completion", lm.identity), async (span) => {
        const r = await run(lm.perplexity(items.map((i) => i.text)));
        span.setAttribute("gen_ai.usage.input_tokens", r.reduce((n, x) => n + x.tokenCount, 0));
        return r;
      });
      const follows = lm.identity.instructionFollowing;
      const questions = follows ? await Promise.all(items.map((i) => ask<{ question: string }>(prompts.question(i.text), QUESTION_SCHEMA).then((r) => nonEmpty(r?.question)))) : items.map(() => null);
      const vectors = await inSpan("Model.embed", undefined, genai("embeddings", embedder.identity), () => run(embedder.embed(items.map((i, k) => questions[k] ?? i.text))));
      const out: Measurement[] = [];
      for (const [k, item] of items.entries()) {
        const verdict = follows ? await ask<{ coherent: boolean; reason: string }>(prompts.coherence(item.text), VERDICT_SCHEMA) : null;
        const halluc = follows && item.prompt !== null ? await ask<{ hallucinated: boolean; reason: string }>(prompts.hallucination(item.prompt, item.text), HALLUCINATION_SCHEMA) : null;
        out.push({
          perplexity: ppl[k]!.perplexity,
          meanNll: ppl[k]!.meanNll,
          tokenCount: ppl[k]!.tokenCount,
          question: questions[k] ?? null,
          questionVector: Array.from(vectors[k]!),
          coherence: typeof verdict?.coherent === "boolean" ? { coherent: verdict.coherent, detail: String(verdict.reason ?? "") } : null,
          hallucination: typeof halluc?.hallucinated === "boolean" ? { hallucinated: halluc.hallucinated, detail: String(halluc.reason ?? "") } : null,
        });
      }
      return out;
    },
  };
};
