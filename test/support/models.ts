import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Effect } from "effect";
import { openLanguageModel, type OpenLanguageModel } from "../../adapters/llm/model.ts";
import { openEmbedder, type OpenEmbedder } from "../../adapters/llm/embedding.ts";
import { type OnePassAnswerOptions, salienceModelOn } from "../../adapters/llm/salience-model.ts";
import { INSTRUCT_SHAPES, writeInstructLlama } from "../../adapters/llm/tiny/instruct.ts";
import type { SalienceModel } from "../../actors/salience/ports.ts";
import { tinyModels } from "../adapters/llm/support.ts";
import { englishModels } from "../../adapters/llm/english/models.ts";

type OpenSalience = { model: SalienceModel; lm: OpenLanguageModel; embedder: OpenEmbedder; close(): Promise<void> };

/** The project's tiny models, built once per run, opened on the CPU with one thread. */
export const openTinySalience = (): Promise<OpenSalience> => openSalienceOn(tinyModels());

/** The shipped default English models (what `sophont` judges with when no model is configured), on the CPU. */
export const openEnglishSalience = (): Promise<OpenSalience> => openSalienceOn(englishModels());

/**
 * The random-weight ChatML instruction model (32k test shape, written to a temp dir) with the tiny
 * embedder: Salience takes its one-pass path on it. `answer` bounds the one-pass answer.
 */
export const openInstructSalience = (opts: { readonly contextSize?: number; readonly answer?: OnePassAnswerOptions } = {}): Promise<OpenSalience> => {
  const lmPath = join(mkdtempSync(join(tmpdir(), "sophont-instruct-")), "instruct.gguf");
  writeInstructLlama(lmPath, INSTRUCT_SHAPES.test);
  return openSalienceOn({ lmPath, embedderPath: tinyModels().embedderPath }, opts);
};

const openSalienceOn = async (paths: { lmPath: string; embedderPath: string }, opts: { readonly contextSize?: number; readonly answer?: OnePassAnswerOptions } = {}): Promise<OpenSalience> => {
  const lm = await Effect.runPromise(openLanguageModel({ modelPath: paths.lmPath, threads: 1, probe: false, ...(opts.contextSize === undefined ? {} : { contextSize: opts.contextSize }) }));
  const embedder = await Effect.runPromise(openEmbedder({ modelPath: paths.embedderPath, threads: 1, probe: false }));
  return { model: salienceModelOn(lm, embedder, opts.answer), lm, embedder, close: async () => (await lm.dispose(), await embedder.dispose()) };
};
