import { Effect } from "effect";
import { openLanguageModel, type OpenLanguageModel } from "../../adapters/llm/model.ts";
import { openEmbedder, type OpenEmbedder } from "../../adapters/llm/embedding.ts";
import { salienceModelOn } from "../../adapters/llm/salience-model.ts";
import type { SalienceModel } from "../../actors/salience/ports.ts";
import { tinyModels } from "../adapters/llm/support.ts";
import { englishModels } from "../../adapters/llm/english/models.ts";

type OpenSalience = { model: SalienceModel; lm: OpenLanguageModel; embedder: OpenEmbedder; close(): Promise<void> };

/** The project's tiny models, built once per run, opened on the CPU with one thread. */
export const openTinySalience = (): Promise<OpenSalience> => openSalienceOn(tinyModels());

/** The shipped default English models (what `sophont` judges with when no model is configured), on the CPU. */
export const openEnglishSalience = (): Promise<OpenSalience> => openSalienceOn(englishModels());

const openSalienceOn = async (paths: { lmPath: string; embedderPath: string }): Promise<OpenSalience> => {
  const lm = await Effect.runPromise(openLanguageModel({ modelPath: paths.lmPath, threads: 1, probe: false }));
  const embedder = await Effect.runPromise(openEmbedder({ modelPath: paths.embedderPath, threads: 1, probe: false }));
  return { model: salienceModelOn(lm, embedder), lm, embedder, close: async () => (await lm.dispose(), await embedder.dispose()) };
};
