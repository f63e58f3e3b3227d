import { availableParallelism } from "node:os";
import { Effect } from "effect";
import type { SalienceModel } from "../../actors/salience/ports.ts";
import type { OpenEmbedder } from "../llm/embedding.ts";
import type { OpenLanguageModel } from "../llm/model.ts";
import { englishModels } from "../llm/english/models.ts";
import type { Config } from "./config.ts";

export interface OpenModels {
  readonly salience: SalienceModel;
  readonly lm: OpenLanguageModel;
  readonly embedder: OpenEmbedder;
  /** One line saying which models judge, for people. */
  readonly description: string;
  close(): Promise<void>;
}

/**
 * Opens the Soul's models: the configured GGUF (SOPHONT_MODEL / `model` in config.json), or the
 * project's default English models (adapters/llm/english: subword bigram LM and embedder), said so.
 */
export const openModels = async (config: Config, log: (s: string) => void): Promise<OpenModels> => {
  let modelPath = config.modelPath;
  let embedderPath = config.embedderPath;
  let small = false;
  if (!modelPath) {
    const shipped = englishModels();
    log(`no model configured (SOPHONT_MODEL): using Sophont's default English models (${shipped.dir})`);
    modelPath = shipped.lmPath;
    embedderPath ??= shipped.embedderPath;
    small = true;
  }
  const threads = config.threads ?? (small ? 1 : Math.max(1, Math.floor(availableParallelism() / 2)));
  // node-llama-cpp is loaded here, by the commands that judge, never for `--help` or `status`.
  const [{ openLanguageModel }, { openEmbedder }, { salienceModelOn }] = await Promise.all([import("../llm/model.ts"), import("../llm/embedding.ts"), import("../llm/salience-model.ts")]);
  const lm = await Effect.runPromise(openLanguageModel({ modelPath, threads, gpu: config.gpu }));
  const embedder = await Effect.runPromise(openEmbedder({ modelPath: embedderPath ?? modelPath, threads, gpu: config.gpu }));
  return {
    salience: salienceModelOn(lm, embedder),
    lm,
    embedder,
    description: `${lm.identity.name ?? modelPath} (sha256 ${lm.identity.sha256.slice(0, 12)}, ${lm.identity.instructionFollowing ? "follows instructions" : "cannot follow instructions: documented fallbacks"})`,
    close: async () => {
      await lm.dispose();
      await embedder.dispose();
    },
  };
};
