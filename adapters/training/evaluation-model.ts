// The Soul's EvaluationModel on the serving LanguageModel: adapters are written once to a directory
// named by their sha256 and loaded as GGUF LoRAs; `use` swaps the live adapter without reloading the base.
import { Effect } from "effect";
import { existsSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import type { EvaluationModel } from "../../actors/soul/evaluation.worker.ts";
import type { LanguageModel } from "../llm/ports.ts";

/** EvaluationModel over `model`, keeping adapter files under `adaptersDir/<sha256>.gguf`. */
export const evaluationModel = (model: LanguageModel, adaptersDir: string): EvaluationModel => ({
  score: (texts) => Effect.runPromise(model.perplexity(texts)),
  load: async (sha256, bytes) => {
    const file = path.join(adaptersDir, `${sha256}.gguf`);
    if (!existsSync(file)) {
      await mkdir(adaptersDir, { recursive: true });
      await writeFile(`${file}.tmp`, bytes);
      await rename(`${file}.tmp`, file);
    }
    const loaded = await Effect.runPromise(model.loadAdapter(file));
    if (loaded.id !== sha256) throw new Error(`adapter file ${file} has sha256 ${loaded.id}, expected ${sha256}`);
  },
  use: (sha256) => Effect.runPromise(model.useAdapter(sha256)),
  active: () => model.activeAdapter,
});
