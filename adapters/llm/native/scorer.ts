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
  dispose(): Promise<void>;
  readonly vocabSize: number;
  readonly contextSize: number;
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
    return this.scorer.score(Int32Array.from(tokens), Int32Array.from(windows.flatMap((w) => [w.start, w.end, w.scoreFrom])), bos ?? -1, 0);
  }

  /** Benchmarks only: the same decoding with logits at every scored position (read none), or only at the last. */
  decodeOnly(tokens: ArrayLike<number>, windows: readonly Window[], bos: number | null, logits: "scored" | "last"): Promise<Float64Array> {
    return this.scorer.score(Int32Array.from(tokens), Int32Array.from(windows.flatMap((w) => [w.start, w.end, w.scoreFrom])), bos ?? -1, logits === "scored" ? 1 : 2);
  }

  /** Applies exactly these LoRA adapters (none: the base model); `key` (the sha256) caches each load. */
  setAdapters(adapters: ReadonlyArray<{ key: string; path: string; scale: number }>): Promise<void> {
    return this.scorer.setAdapters(adapters);
  }

  dispose(): Promise<void> { return this.scorer.dispose(); }
}
