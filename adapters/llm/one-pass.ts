import { createHash } from "node:crypto";
import { type GbnfJsonSchema, type Llama, type LlamaModel, LlamaText, resolveChatWrapper, type Token } from "node-llama-cpp";
import { InferenceError, reasonOf } from "./errors.ts";
import type { NativeScorer, PassOutput } from "./native/scorer.ts";
import { summarise } from "./perplexity.ts";
import type { AnsweredText, AnswerRequest, OnePassBatch, OnePassOptions, PerplexityResult } from "./ports.ts";

/** Stands for the user's text while the chat template is rendered; split out again before tokenizing. */
const SENTINEL = "\u0000sophont-text\u0000";

/**
 * The model's own chat template (node-llama-cpp's resolution: a known wrapper or the GGUF's jinja
 * template) rendered around a system turn and one user turn, cut where the user's text goes: the
 * prefix (BOS, system turn, the user turn's opening) and the closing (end of the user turn, the
 * assistant's header). Each part is tokenized with its special tokens.
 */
export interface ChatFrame {
  readonly prefix: readonly Token[];
  readonly prefixSha256: string;
  /** The closing tokens, with `afterText` (may be "") inside the user turn after the text. */
  closing(afterText: string): Token[];
}

export const chatFrame = (model: LlamaModel, system: string): ChatFrame => {
  const wrapper = resolveChatWrapper(model);
  const { contextText } = wrapper.generateContextState({
    chatHistory: [{ type: "system", text: system }, { type: "user", text: SENTINEL }, { type: "model", response: [] }],
  });
  const values = contextText.values;
  const at = values.findIndex((v) => typeof v === "string" && v.includes(SENTINEL));
  if (at < 0) throw new InferenceError({ operation: "chatFrame", reason: `the chat template (${wrapper.wrapperName}) dropped the user's text` });
  const cut = values[at] as string;
  const k = cut.indexOf(SENTINEL);
  const before = LlamaText([...values.slice(0, at), cut.slice(0, k)]);
  const after = [cut.slice(k + SENTINEL.length), ...values.slice(at + 1)];
  const prefix = before.tokenize(model.tokenizer);
  const prefixSha256 = createHash("sha256").update(new Uint8Array(Int32Array.from(prefix.map(Number)).buffer)).digest("hex");
  return { prefix, prefixSha256, closing: (afterText) => LlamaText([afterText, ...after]).tokenize(model.tokenizer) };
};

/**
 * GBNF for a JSON schema, from node-llama-cpp. Its grammar ends the object with four newlines (its
 * own generation stops on them); here the answer ends on the end-of-generation token instead, so the
 * grammar ends at the closing brace and leaves the model nothing but that token.
 */
export const answerGrammar = async (llama: Llama, schema: object) => {
  const g = await llama.createGrammarForJsonSchema(schema as never as GbnfJsonSchema & { const: string }).catch((e: unknown) => {
    throw new InferenceError({ operation: "onePass", reason: `schema not supported: ${reasonOf(e)}` });
  });
  const text = g.grammar.replace(/ "\\n\\n\\n\\n" \[\\n\]\*$/m, "");
  return { gbnf: text, root: g.rootRuleName, parse: (json: string): unknown => g.parse(json) };
};

const probeCache = new WeakMap<LlamaModel, Token[]>();

/** Tokens that can begin a JSON boolean: their text, leading blanks dropped, starts "true" or "false". */
export const booleanProbes = (model: LlamaModel, vocabularySize: number): Token[] => {
  let probes = probeCache.get(model);
  if (probes === undefined) {
    probes = [];
    for (let t = 0; t < vocabularySize; t++) {
      const piece = model.detokenize([t as Token]).replace(/^[\s\u2581]+/, "");
      if (piece !== "" && ("true".startsWith(piece) || "false".startsWith(piece) || piece.startsWith("true") || piece.startsWith("false"))) probes.push(t as Token);
    }
    probeCache.set(model, probes);
  }
  return probes;
};

/**
 * The probability the model gave the value of boolean `key` among what the grammar allowed: at the
 * answer token where that value begins. NaN where it was not computed (then the model's own
 * probability, a lower bound); null when the answer holds no such key.
 */
export const valueConfidence = (model: LlamaModel, out: PassOutput, key: string): number | null => {
  const start = new RegExp(`"${key}"\\s*:\\s*[tf]`);
  let text = "";
  for (let k = 0; k < out.answer.length; k++) {
    text = model.detokenize(out.answer.slice(0, k + 1) as Token[]);
    if (start.test(text)) {
      const g = out.grammarLogProbs[k]!;
      return Math.exp(Number.isNaN(g) ? out.rawLogProbs[k]! : g);
    }
  }
  return null;
};

const nllsOf = (lp: Float64Array): number[] => Array.from(lp, (x) => -x);

/** What one onePass call needs from the model service. */
export interface OnePassContext {
  readonly llama: Llama;
  readonly model: LlamaModel;
  readonly native: NativeScorer;
  readonly contextSize: number;
  /** The windowed perplexity of texts too long for one pass (the BOS-conditioned path). */
  readonly windowed: (texts: readonly string[]) => Promise<PerplexityResult[]>;
}

/**
 * Perplexity, answer and its confidence for every request, one evaluation of each text. Requests that
 * share a schema go through the scorer together; a text too long for prefix + text + closing + answer
 * is scored by the windowed path and answered from its head (`method` "windowed-truncated").
 */
export const answerInOnePass = async (c: OnePassContext, requests: readonly AnswerRequest[], opts: OnePassOptions): Promise<OnePassBatch> => {
  const frame = chatFrame(c.model, opts.system);
  const results: AnsweredText[] = new Array(requests.length);
  let prefixEvaluated = 0;
  const bySchema = new Map<object, number[]>();
  requests.forEach((r, i) => bySchema.set(r.schema, [...(bySchema.get(r.schema) ?? []), i]));
  const probes = opts.confidenceKey === undefined ? [] : booleanProbes(c.model, c.native.vocabSize);
  for (const [schema, indices] of bySchema) {
    const grammar = await answerGrammar(c.llama, schema);
    const inputs = indices.map((i) => {
      const r = requests[i]!;
      const text = c.model.tokenize(r.text);
      const closing = frame.closing(r.afterText);
      const room = c.contextSize - frame.prefix.length - closing.length - opts.maxTokens;
      if (room < 1) throw new InferenceError({ operation: "onePass", reason: `prefix and closing leave no room for a text in a context of ${c.contextSize}` });
      return { text: text.length === 0 ? [] : text, closing, fits: text.length <= room, head: text.slice(0, room) };
    });
    const long = inputs.map((x, k) => (x.fits ? -1 : k)).filter((k) => k >= 0);
    // One text at a time (each is longer than a window anyway), so the tokens its windows cost are its own.
    const windowed: PerplexityResult[] = [], windowTokens: number[] = [];
    for (const k of long) {
      const before = c.native.evaluatedTokens;
      windowed.push(...(await c.windowed([requests[indices[k]!]!.text])));
      windowTokens.push(c.native.evaluatedTokens - before);
    }
    // An empty text has nothing to score; it is answered from its closing alone through a lone newline.
    const pass = await c.native.onePass(frame.prefix, inputs.map((x) => ({
      text: x.fits ? (x.text.length > 0 ? x.text : c.model.tokenize("\n")) : x.head, closing: x.closing, maxTokens: opts.maxTokens,
    })), { grammar: grammar.gbnf, root: grammar.root, timeoutMs: opts.timeoutMs, probes });
    prefixEvaluated += pass.prefixEvaluated;
    pass.outputs.forEach((out, k) => {
      const x = inputs[k]!;
      const w = long.indexOf(k);
      const perplexity = w >= 0 ? windowed[w]! : x.text.length === 0 ? summarise([], [], false) : summarise(x.text, nllsOf(out.logProbs), false);
      const answerText = c.model.detokenize(out.answer as Token[]);
      let value: unknown = null;
      let stop: AnsweredText["stop"] = out.stop;
      if (out.stop === "eog") {
        try { value = grammar.parse(answerText); } catch { stop = "unparsed"; }
      }
      results[indices[k]!] = {
        perplexity, value, answerText, stop, method: w >= 0 ? "windowed-truncated" : "one-pass",
        evaluated: out.evaluated + (w >= 0 ? windowTokens[w]! : 0), answerTokens: out.answer.length, closingTokens: x.closing.length, textTokens: x.fits ? x.text.length : x.head.length,
        confidence: opts.confidenceKey === undefined || value === null ? null : valueConfidence(c.model, out, opts.confidenceKey),
      };
    });
  }
  return { prefixSha256: frame.prefixSha256, prefixTokens: frame.prefix.length, prefixEvaluated, items: results };
};
