import { Effect } from "effect";
import type { Measurement, ModelIds, SalienceModel } from "../../actors/salience/ports.ts";
import type { Evaluation } from "../../events/salience.ts";
import type { AnsweredText, Embedder, LanguageModel } from "./ports.ts";
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

/**
 * The one-pass path's instruction: the system turn every input's user turn follows, evaluated once per
 * night (the scorer keeps it). The text comes first in the user turn, then (for a model output) the
 * prompt it answered, then the template's closing, then the answer: nothing before the text depends on it.
 */
export const ONE_PASS_SYSTEM = [
  "You read one text in the user turn and answer as JSON:",
  "question: the implicit question the text answers, as one short question;",
  "coherent: whether the text is coherent, meaningful language (not noise, not word salad), and reason: why, briefly;",
  "hallucinated (only when the user turn says the text is a model's answer to a prompt): whether the answer states things that are false or made up.",
].join("\n");

/** Bounds of the one-pass answer: every string has a maxLength (random weights never close one). */
export interface OnePassAnswerOptions {
  readonly questionChars: number;
  readonly reasonChars: number;
  readonly maxTokens: number;
  readonly timeoutMs: number;
}
export const ONE_PASS_ANSWER: OnePassAnswerOptions = { questionChars: 160, reasonChars: 120, maxTokens: 256, timeoutMs: 60_000 };

const answerSchemas = (o: OnePassAnswerOptions) => {
  const base = {
    question: { type: "string", maxLength: o.questionChars },
    coherent: { type: "boolean" },
    reason: { type: "string", maxLength: o.reasonChars },
  };
  return {
    input: { type: "object", properties: base, required: ["question", "coherent", "reason"] },
    output: { type: "object", properties: { ...base, hallucinated: { type: "boolean" } }, required: ["question", "coherent", "reason", "hallucinated"] },
  };
};

/** What follows a model output's text inside the user turn: the prompt it answered. */
export const outputNote = (prompt: string) => `\n\n(The text above is a model's answer to this prompt:\n${prompt})`;

/** Why a one-pass answer was not used, as InputScored.evaluation.fallback records it; null: it was used. */
const fallbackOf = (stop: AnsweredText["stop"]): Evaluation["fallback"] =>
  stop === "eog" ? null : stop === "timeout" ? "timeout" : stop === "maxTokens" ? "maxTokens" : "schema";

/** A distilled question worth embedding: a non-blank string, else null (the text's own embedding stands for it). */
const nonEmpty = (q: unknown): string | null => (typeof q === "string" && q.trim() !== "" ? q : null);

const run = <A>(e: Effect.Effect<A, unknown>) => Effect.runPromise(e as Effect.Effect<A, never>);

/**
 * Salience's model port on node-llama-cpp: perplexity from the scoring model, the question vector from
 * the embedding model. A model that cannot follow instructions states no question (its text's own
 * embedding stands for it) and gives no verdicts (Salience applies its documented fallbacks).
 */
export const salienceModelOn = (lm: LanguageModel, embedder: Embedder, answer: OnePassAnswerOptions = ONE_PASS_ANSWER): SalienceModel => {
  const schemas = answerSchemas(answer);
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
      const onePass = lm.onePass;
      if (onePass !== null) {
        // One evaluation per text: its perplexity and the answer about it from the same state.
        const batch = await inSpan("Model.onePass", undefined, genai("chat", lm.identity), async (span) => {
          const r = await run(onePass(items.map((i) => ({
            text: i.text, afterText: i.prompt === null ? "" : outputNote(i.prompt), schema: i.prompt === null ? schemas.input : schemas.output,
          })), { system: ONE_PASS_SYSTEM, maxTokens: answer.maxTokens, timeoutMs: answer.timeoutMs, confidenceKey: "coherent" }));
          span.setAttribute("gen_ai.usage.input_tokens", r.prefixEvaluated + r.items.reduce((n, x) => n + x.evaluated, 0));
          span.setAttribute("sophont.prefix.sha256", r.prefixSha256);
          return r;
        });
        const answers = batch.items.map((x) => (x.value ?? null) as { question?: unknown; coherent?: unknown; reason?: unknown; hallucinated?: unknown } | null);
        const questions = answers.map((a) => nonEmpty(a?.question));
        const vectors = await inSpan("Model.embed", undefined, genai("embeddings", embedder.identity), () => run(embedder.embed(items.map((i, k) => questions[k] ?? i.text))));
        // A question no piece of which carries meaning for the embedder (all-zero vector): the text's own embedding stands for it.
        const blank = questions.flatMap((q, k) => (q !== null && !vectors[k]!.some((x) => x !== 0) ? [k] : []));
        if (blank.length > 0) {
          const again = await run(embedder.embed(blank.map((k) => items[k]!.text)));
          blank.forEach((k, j) => { questions[k] = null; vectors[k] = again[j]!; });
        }
        return items.map((item, k): Measurement => {
          const x = batch.items[k]!;
          const a = answers[k];
          const reason = String(a?.reason ?? "");
          const evaluation: Evaluation = {
            method: x.method, fallback: fallbackOf(x.stop), prefixSha256: batch.prefixSha256, prefixTokens: batch.prefixTokens, tokensEvaluated: x.evaluated,
          };
          return {
            perplexity: x.perplexity.perplexity,
            meanNll: x.perplexity.meanNll,
            tokenCount: x.perplexity.tokenCount,
            question: questions[k] ?? null,
            questionVector: Array.from(vectors[k]!),
            coherence: typeof a?.coherent === "boolean" ? { coherent: a.coherent, detail: reason } : null,
            hallucination: item.prompt !== null && typeof a?.hallucinated === "boolean" ? { hallucinated: a.hallucinated, detail: reason } : null,
            evaluation,
          };
        });
      }
      // The four-call path: perplexity on its own, then each answer asked separately.
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
