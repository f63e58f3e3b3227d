import { createRequire } from "node:module";
import type { Llama } from "node-llama-cpp";
import { buildNativeScorer } from "./build.ts";
import type { Window } from "../perplexity.ts";

/** The addon's surface (scorer.cc). */
interface Addon {
  bind(): string;
  Scorer: new () => AddonScorer;
}
interface AddonScorer {
  load(path: string, opts: { gpuLayers: number; contextSize: number; batchSize: number; threads: number; flashAttention: number }): Promise<void>;
  setAdapters(adapters: ReadonlyArray<{ key: string; path: string; scale: number }>): Promise<void>;
  score(tokens: Int32Array, windows: Int32Array, bos: number, mode?: number): Promise<Float64Array>;
  onePass(prefix: Int32Array, items: ReadonlyArray<{ text: Int32Array; closing: Int32Array; maxTokens: number }>,
    opts: { grammar: string; root: string; timeoutMs: number; probes: Int32Array }): Promise<{ prefixEvaluated: number; items: AddonPassItem[] }>;
  dispose(): Promise<void>;
  readonly vocabSize: number;
  readonly contextSize: number;
}

interface AddonPassItem {
  logProbs: Float64Array;
  answer: Int32Array;
  rawLogProbs: Float64Array;
  grammarLogProbs: Float64Array;
  stop: number;
  evaluated: number;
}

/** One input of a one-pass call: its text's tokens, the template's closing tokens, the answer's token budget. */
export interface PassInput {
  readonly text: readonly number[];
  readonly closing: readonly number[];
  readonly maxTokens: number;
}

/** Why an answer ended: its end-of-generation token, the budget, the deadline, or a grammar that allowed nothing. */
export type PassStop = "eog" | "maxTokens" | "timeout" | "grammar";
const STOPS: readonly PassStop[] = ["eog", "maxTokens", "timeout", "grammar"];

export interface PassOutput {
  /** ln p(text[j] | prefix, text[0..j)) for every text token. */
  readonly logProbs: Float64Array;
  /** The answer's tokens (the end-of-generation token left out). */
  readonly answer: readonly number[];
  /** ln p of each answer token under the model alone. */
  readonly rawLogProbs: Float64Array;
  /** ln p of each answer token among the tokens the grammar allowed there; NaN where it was not computed. */
  readonly grammarLogProbs: Float64Array;
  readonly stop: PassStop;
  /** Tokens this input put through llama_decode: text + closing + answer tokens fed back. */
  readonly evaluated: number;
}

/** Which path scores perplexity, and why when it is the slow one. */
export type ScorerInfo =
  | { readonly kind: "native"; readonly libllama: string }
  | { readonly kind: "public"; readonly reason: string };

type Loaded = { readonly ok: true; readonly addon: Addon; readonly libllama: string } | { readonly ok: false; readonly reason: string };

let loading: Promise<Loaded> | undefined;

/** SOPHONT_NATIVE_SCORER=0 forces node-llama-cpp's public path. */
export const nativeScorerDisabled = (): boolean => ["0", "false", "off", "no"].includes((process.env.SOPHONT_NATIVE_SCORER ?? "").toLowerCase());

/**
 * Loads the addon (building it once when missing) and binds it to the libllama `llama` loaded;
 * the runtime must exist first so that there is one libllama in the process to bind to. The
 * headers it was compiled against must be from the same llama.cpp release, or the struct layouts
 * passed by value could differ: anything else falls back.
 */
const loadAddon = (llama: Llama): Promise<Loaded> =>
  (loading ??= (async (): Promise<Loaded> => {
    const build = await buildNativeScorer();
    if (!build.ok) return { ok: false, reason: `not built: ${build.reason} (${build.hint})` };
    const release = llama.llamaCppRelease.release;
    if (build.manifest.llamaCppRelease !== release) {
      return { ok: false, reason: `built against llama.cpp ${build.manifest.llamaCppRelease}, but node-llama-cpp runs ${release}` };
    }
    try {
      const addon = createRequire(import.meta.url)(build.binary) as Addon;
      return { ok: true, addon, libllama: addon.bind() };
    } catch (e) {
      return { ok: false, reason: `cannot load ${build.binary}: ${e instanceof Error ? e.message : String(e)}` };
    }
  })());

export interface NativeScorerOptions {
  readonly modelPath: string;
  /** Layers node-llama-cpp offloaded (`LlamaModel.gpuLayers`), so both run on the same devices. */
  readonly gpuLayers: number;
  readonly contextSize: number;
  readonly batchSize: number;
  readonly threads: number;
  readonly flashAttention: "auto" | boolean;
}

/**
 * A second llama_context over the same GGUF (memory-mapped, so its pages are shared with
 * node-llama-cpp's load) that returns ln p(next token) per scored position from native code.
 */
export class NativeScorer {
  private constructor(private readonly scorer: AddonScorer, readonly libllama: string) {}

  /** Tokens put through llama_decode by this scorer so far (every path), for the tokens-per-input figures. */
  evaluatedTokens = 0;

  /** Opens a scorer, or says why the public path must be used instead. Never throws. */
  static async open(llama: Llama, opts: NativeScorerOptions): Promise<NativeScorer | { readonly reason: string }> {
    if (nativeScorerDisabled()) return { reason: "SOPHONT_NATIVE_SCORER=0" };
    const loaded = await loadAddon(llama);
    if (!loaded.ok) return { reason: loaded.reason };
    const scorer = new loaded.addon.Scorer();
    try {
      await scorer.load(opts.modelPath, {
        gpuLayers: opts.gpuLayers, contextSize: opts.contextSize, batchSize: opts.batchSize, threads: opts.threads,
        flashAttention: opts.flashAttention === "auto" ? -1 : opts.flashAttention ? 1 : 0,
      });
      return new NativeScorer(scorer, loaded.libllama);
    } catch (e) {
      return { reason: e instanceof Error ? e.message : String(e) };
    }
  }

  /** Like `open`, but a missing or failing scorer is an error (benchmarks and tests). */
  static async require(llama: Llama, opts: NativeScorerOptions): Promise<NativeScorer> {
    const s = await NativeScorer.open(llama, opts);
    if (s instanceof NativeScorer) return s;
    throw new Error(`native scorer unavailable: ${s.reason}`);
  }

  get vocabSize(): number { return this.scorer.vocabSize; }
  get contextSize(): number { return this.scorer.contextSize; }

  /**
   * ln p(tokens[t] | BOS?, tokens[window.start, t)) for every target t of every window, in order.
   * `bos` null means no BOS (the first token is then context only, as planWindows assumes).
   */
  logProbs(tokens: ArrayLike<number>, windows: readonly Window[], bos: number | null): Promise<Float64Array> {
    this.evaluatedTokens += windows.reduce((n, w) => n + w.end - w.start + (bos === null ? 0 : 1), 0);
    return this.scorer.score(Int32Array.from(tokens), Int32Array.from(windows.flatMap((w) => [w.start, w.end, w.scoreFrom])), bos ?? -1, 0);
  }

  /** Benchmarks only: the same decoding with logits at every scored position (read none), or only at the last. */
  decodeOnly(tokens: ArrayLike<number>, windows: readonly Window[], bos: number | null, logits: "scored" | "last"): Promise<Float64Array> {
    return this.scorer.score(Int32Array.from(tokens), Int32Array.from(windows.flatMap((w) => [w.start, w.end, w.scoreFrom])), bos ?? -1, logits === "scored" ? 1 : 2);
  }

  /**
   * One evaluation per input: `prefix` (BOS and the chat template up to the user's text) is decoded once
   * into sequence 0 (not again while it stays the same and no `logProbs` call came between), each input's
   * text after a copy of it with ln p at every text token, then its closing tokens, then a greedy answer
   * under the GBNF `grammar` of at most `maxTokens`, inputs in lockstep; `timeoutMs` bounds each group's
   * generation. `probes`: tokens whose probability among those the grammar allows is wanted even where the
   * model's own first choice is allowed (a verdict's first token). An input's answer ending early is
   * its `stop`, never an error; failures (a bad grammar, a decode error) reject.
   */
  async onePass(prefix: readonly number[], inputs: readonly PassInput[], opts: { grammar: string; root: string; timeoutMs: number; probes: readonly number[] }):
  Promise<{ prefixEvaluated: number; outputs: PassOutput[] }> {
    const r = await this.scorer.onePass(
      Int32Array.from(prefix),
      inputs.map((i) => ({ text: Int32Array.from(i.text), closing: Int32Array.from(i.closing), maxTokens: i.maxTokens })),
      { grammar: opts.grammar, root: opts.root, timeoutMs: opts.timeoutMs, probes: Int32Array.from(opts.probes) },
    );
    this.evaluatedTokens += r.prefixEvaluated + r.items.reduce((n, i) => n + i.evaluated, 0);
    return {
      prefixEvaluated: r.prefixEvaluated,
      outputs: r.items.map((i) => ({ ...i, answer: Array.from(i.answer), stop: STOPS[i.stop] ?? "grammar" })),
    };
  }

  /** Applies exactly these LoRA adapters (none: the base model); `key` (the sha256) caches each load. */
  setAdapters(adapters: ReadonlyArray<{ key: string; path: string; scale: number }>): Promise<void> {
    return this.scorer.setAdapters(adapters);
  }

  dispose(): Promise<void> { return this.scorer.dispose(); }
}
