import { join, resolve } from "node:path";
import { defineCommand } from "../command.ts";
import { printResult } from "../format.ts";
import { makeTinyModels, shippedCorpusDir } from "../../llm/tiny/factory.ts";

export const modelMakeTiny = defineCommand({
  path: ["model", "make-tiny"],
  summary: "build the project's tiny GGUF models (a bigram language model and a word-vector embedder) from a corpus",
  usage: "sophont model make-tiny [--corpus DIR] [--out DIR] [--json]",
  details: [
    "The corpus directory holds train/*.txt (one sentence per line); the default is the corpus Sophont ships.",
    "Deterministic: the same corpus gives the same bytes. Output: DIR/<hash>/lm.gguf and embedder.gguf",
    "(default DIR: $SOPHONT_HOME/models/tiny). Without SOPHONT_MODEL, Sophont uses these.",
  ].join("\n"),
  options: { corpus: { type: "string" }, out: { type: "string" }, json: { type: "boolean" } },
  run: async (ctx, v) => {
    const built = makeTinyModels({ corpusDir: resolve((v.corpus as string | undefined) ?? shippedCorpusDir), outDir: resolve((v.out as string | undefined) ?? join(ctx.config.home, "models", "tiny")) });
    printResult(ctx, v.json, { cached: built.cached, lm: built.lmPath, embedder: built.embedderPath }, () => `${built.cached ? "already built" : "built"}: ${built.lmPath}\n${" ".repeat(built.cached ? 15 : 7)}${built.embedderPath}`);
  },
});
