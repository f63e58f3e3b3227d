// Binds the Muscle's TrainingMaterials to the content store and the Soul's model: texts and
// artifacts by sha256, tokens from the serving model's own tokenizer, the shipped general-English replay set.
import { Effect } from "effect";
import { fileURLToPath } from "node:url";
import type { ContentStore } from "../../actors/ports.ts";
import type { TrainingMaterials } from "../../actors/muscle/datasets.ts";
import type { LanguageModel } from "../llm/ports.ts";
import { sha256File } from "../ssh/transfer.ts";
import { loadGeneralReplay } from "./replay.ts";

/** The trainer payload shipped with Sophont (the directory holding `sophont_trainer/`). */
export const trainerDir = fileURLToPath(new URL("../trainer/", import.meta.url));

/** TrainingMaterials over a content store and a loaded model whose GGUF is at `baseModelPath`. */
export const trainingMaterials = (content: ContentStore, model: LanguageModel, baseModelPath: string): TrainingMaterials => {
  const bytes = async (sha: string, what: string) => {
    const b = await content.get(sha);
    if (!b) throw new Error(`the ${what} ${sha} is not in the content store (was it forgotten?)`);
    return b;
  };
  return {
    text: async (sha) => Buffer.from(await bytes(sha, "text")).toString("utf8"),
    tokenize: (text) => Effect.runPromise(model.tokenize(text)),
    contextLength: model.identity.contextLength ?? model.contextSize,
    baseModelPath,
    trainerDir,
    artifact: (sha) => bytes(sha, "artifact"),
    keep: (b) => content.put(b),
    digest: sha256File,
    generalReplay: loadGeneralReplay(),
  };
};
