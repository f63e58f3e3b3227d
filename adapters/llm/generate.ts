import { type GbnfJsonSchema, type Llama, LlamaCompletion, type LlamaContextSequence } from "node-llama-cpp";
import { GenerationIncompleteError, InferenceError, reasonOf } from "./errors.ts";
import type { JsonGeneration, JsonGenerationOptions } from "./ports.ts";

/**
 * A completion forced by a GBNF grammar compiled from the JSON schema. Temperature 0 is greedy
 * (deterministic); otherwise the seed (given, or drawn here) is returned so the run can be replayed.
 * A completion that stops on the token budget or the timeout is an error, never half a JSON value.
 */
export const generateJsonOn = async (
  llama: Llama, seq: LlamaContextSequence, prompt: string, schema: object, opts: JsonGenerationOptions, adapterId: string | null,
): Promise<JsonGeneration> => {
  const temperature = opts.temperature ?? 0;
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31);
  const grammar = await llama.createGrammarForJsonSchema(schema as never as GbnfJsonSchema & { const: string }).catch((e: unknown) => {
    throw new InferenceError({ operation: "generateJson", reason: `schema not supported: ${reasonOf(e)}` });
  });
  await seq.clearHistory();
  const completion = new LlamaCompletion({ contextSequence: seq });
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error("timeout")), opts.timeoutMs);
  let tokens = 0;
  try {
    const res = await completion.generateCompletionWithMeta(prompt, {
      grammar, maxTokens: opts.maxTokens, temperature, seed, signal: abort.signal, stopOnAbortSignal: true,
      onToken: (t) => { tokens += t.length; },
    });
    const reason = res.metadata.stopReason;
    if (reason !== "eogToken" && reason !== "stopGenerationTrigger") {
      const stopReason = reason === "maxTokens" ? "maxTokens" : reason === "abort" ? "timeout" : "other";
      throw new GenerationIncompleteError({ stopReason, partialText: res.response });
    }
    return { value: grammar.parse(res.response), text: res.response, tokens, seed, temperature, adapterId };
  } catch (e) {
    if (e instanceof GenerationIncompleteError) throw e;
    if (abort.signal.aborted) throw new GenerationIncompleteError({ stopReason: "timeout", partialText: "" });
    throw new InferenceError({ operation: "generateJson", reason: reasonOf(e) });
  } finally {
    clearTimeout(timer);
    completion.dispose({ disposeSequence: false });
  }
};
