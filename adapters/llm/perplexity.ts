import type { LlamaContextSequence, Token } from "node-llama-cpp";
import type { NativeScorer } from "./native/scorer.ts";
import type { PerplexityOptions, PerplexityResult } from "./ports.ts";

/** One evaluation window: feed `tokens[start, end)` (after BOS when used), score targets `[scoreFrom, end)`. */
export interface Window {
  readonly start: number;
  readonly end: number;
  readonly scoreFrom: number;
}

/**
 * Sliding windows like llama.cpp's perplexity tool and the Hugging Face recipe: each window holds
 * at most `size` tokens, advances by `stride`, and scores only the targets the previous window
 * did not, so every target after the first window keeps at least `size - stride` tokens of context.
 * With a BOS the first token is scored from BOS alone; without one it is context only.
 */
export const planWindows = (n: number, size: number, stride: number, hasBos: boolean): Window[] => {
  if (size < 2) throw new Error(`window of ${size} tokens is too small`);
  if (stride < 1 || stride >= size) throw new Error(`stride ${stride} must be in [1, ${size - 1}]`);
  const windows: Window[] = [];
  let scored = hasBos ? 0 : 1;
  for (let start = 0; scored < n; start += stride) {
    const end = Math.min(start + size, n);
    if (end > scored) windows.push({ start, end, scoreFrom: scored });
    scored = end;
  }
  return windows;
};

/** Folds per-token negative log-likelihoods into the result; exposed so tests recompute it independently. */
export const summarise = (tokens: readonly number[], nlls: readonly number[], withSurprisal: boolean): PerplexityResult => {
  let sum = 0;
  for (const x of nlls) sum += x;
  const meanNll = nlls.length === 0 ? 0 : sum / nlls.length;
  const base = { perplexity: Math.exp(meanNll), meanNll, tokenCount: nlls.length };
  return withSurprisal ? { ...base, surprisal: nlls.map((nll, i) => ({ token: tokens[i]!, nll })) } : base;
};

/** How texts are cut: BOS (or null), window size and stride, from the context and the caller's options. */
export interface ScoringPlan {
  readonly bos: Token | null;
  readonly size: number;
  readonly stride: number;
}

export const planScoring = (contextSize: number, bos: Token | null, opts: PerplexityOptions): ScoringPlan => {
  const room = contextSize - (bos === null ? 0 : 1);
  const size = Math.min(opts.window ?? room, room);
  return { bos, size, stride: opts.stride ?? Math.max(1, Math.floor(size / 2)) };
};

/** Positions per controlledEvaluate call: full-vocabulary maps are large, so results are consumed in slices. */
const SLICE = 32;

/**
 * Scores `tokens[window.scoreFrom, window.end)` on a cleared sequence. Uses
 * `controlledEvaluate` with `generateNext.probabilities`, the only public node-llama-cpp 3.21.1
 * path to the probability of a token other than the sampled one.
 */
export const scoreWindow = async (
  seq: LlamaContextSequence, tokens: readonly Token[], window: Window, bos: Token | null,
): Promise<number[]> => {
  await seq.clearHistory();
  const input: Token[] = [...(bos === null ? [] : [bos]), ...tokens.slice(window.start, window.end)];
  const offset = window.start - (bos === null ? 0 : 1); // input index i holds tokens[i + offset]
  const nlls: number[] = [];
  for (let from = 0; from < input.length; from += SLICE) {
    const slice = input.slice(from, Math.min(from + SLICE, input.length));
    const items = slice.map((t, k) => {
      const target = from + k + 1 + offset;
      return target >= window.scoreFrom && target < window.end ? [t, { generateNext: { probabilities: true } }] as const : t;
    });
    const out = await seq.controlledEvaluate(items as never);
    slice.forEach((_, k) => {
      const probs = out[k]?.next.probabilities;
      if (probs === undefined) return;
      const target = tokens[from + k + 1 + offset]!;
      nlls.push(-Math.log(probs.get(target) ?? 0));
    });
  }
  return nlls;
};

/** Scores one tokenised text over its windows. */
export const scoreTokens = async (
  seq: LlamaContextSequence, tokens: readonly Token[], bos: Token | null, size: number, stride: number,
): Promise<number[]> => {
  const nlls: number[] = [];
  for (const w of planWindows(tokens.length, size, stride, bos !== null)) nlls.push(...(await scoreWindow(seq, tokens, w, bos)));
  return nlls;
};

/**
 * The public path: the texts one after another on one sequence. Not on several sequences at once:
 * with node-llama-cpp 3.21.1, two sequences decoded in one batch whose windows differ in length
 * get some positions' probabilities from the wrong rows (a script scoring 8 texts of 9-32 tokens on
 * a 32k-vocabulary model, two sequences against one, found 18 of 240 scorings off by up to 18 nats;
 * CI caught the same as a 17% perplexity error). llama.cpp then reorders its outputs lazily on first
 * access, and node-llama-cpp samples the sequences' positions on concurrent worker threads.
 */
export const scoreTextsPublic = async (
  texts: readonly string[], tokenize: (text: string) => Token[], seq: LlamaContextSequence,
  plan: ScoringPlan, surprisal: boolean,
): Promise<PerplexityResult[]> => {
  try {
    const results: PerplexityResult[] = [];
    for (const text of texts) {
      const tokens = tokenize(text);
      const nlls = await scoreTokens(seq, tokens, plan.bos, plan.size, plan.stride);
      results.push(summarise(tokens.slice(tokens.length - nlls.length), nlls, surprisal));
    }
    return results;
  } finally {
    seq.dispose();
  }
};

/**
 * The native path: the same windows, every text's in one call, scored off the event loop with only
 * ln p(target) returned. The scorer packs short windows into one batch as separate sequences.
 */
export const scoreTextsNative = async (
  texts: readonly string[], tokenize: (text: string) => Token[], scorer: NativeScorer, plan: ScoringPlan, surprisal: boolean,
): Promise<PerplexityResult[]> => {
  const all: Token[] = [];
  const windows: Window[] = [];
  const spans: Array<{ tokens: Token[]; scored: number }> = [];
  for (const text of texts) {
    const tokens = tokenize(text);
    const base = all.length;
    let scored = 0;
    for (const w of planWindows(tokens.length, plan.size, plan.stride, plan.bos !== null)) {
      windows.push({ start: base + w.start, end: base + w.end, scoreFrom: base + w.scoreFrom });
      scored += w.end - w.scoreFrom;
    }
    for (const t of tokens) all.push(t);
    spans.push({ tokens, scored });
  }
  const logProbs = await scorer.logProbs(all, windows, plan.bos);
  let at = 0;
  return spans.map(({ tokens, scored }) => {
    const nlls = Array.from(logProbs.subarray(at, (at += scored)), (lp) => -lp);
    return summarise(tokens.slice(tokens.length - nlls.length), nlls, surprisal);
  });
};
