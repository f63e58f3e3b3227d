import { join, resolve } from "node:path";
import { defineCommand } from "../command.ts";
import { printResult, progress, UsageError } from "../format.ts";
import { makeTinyModels, shippedCorpusDir } from "../../llm/tiny/factory.ts";
import { adaptEnglishModels } from "../../llm/english/adapt.ts";

export const modelMakeTiny = defineCommand({
  path: ["model", "make-tiny"],
  summary: "build the project's tiny test models (an 856-word bigram LM and a word-vector embedder) from a corpus",
  usage: "sophont model make-tiny [--corpus DIR] [--out DIR] [--json]",
  details: [
    "The corpus directory holds train/*.txt (one sentence per line); the default is the tiny corpus Sophont ships.",
    "Deterministic: the same corpus gives the same bytes. Output: DIR/<hash>/lm.gguf and embedder.gguf",
    "(default DIR: $SOPHONT_HOME/models/tiny). These are small, fast models for tests; they know only the",
    "corpus's words. Sophont uses them only when told: set \"model\" and \"embedder\" in config.json (or",
    "SOPHONT_MODEL and SOPHONT_EMBEDDER) to the two paths printed. Without them Sophont uses its default",
    "English models; to fit those to your own texts, see `sophont model adapt`.",
  ].join("\n"),
  options: { corpus: { type: "string" }, out: { type: "string" }, json: { type: "boolean" } },
  run: async (ctx, v) => {
    const built = makeTinyModels({ corpusDir: resolve((v.corpus as string | undefined) ?? shippedCorpusDir), outDir: resolve((v.out as string | undefined) ?? join(ctx.config.home, "models", "tiny")) });
    printResult(ctx, v.json, { cached: built.cached, lmPath: built.lmPath, embedderPath: built.embedderPath, hash: built.hash }, () =>
      `${built.cached ? "already built" : "built"}: ${built.lmPath}\n${" ".repeat(built.cached ? 15 : 7)}${built.embedderPath}\n` +
      `to use them: SOPHONT_MODEL=${built.lmPath} SOPHONT_EMBEDDER=${built.embedderPath} (or "model"/"embedder" in config.json)`);
  },
});

export const modelAdapt = defineCommand({
  path: ["model", "adapt"],
  summary: "adapt the default English language model to your own texts, keeping what it knows of general English",
  usage: "sophont model adapt --corpus DIR|FILE [--weight W] [--out DIR] [--json]",
  details: [
    "Reads your texts (*.txt and *.md under DIR, recursively, or one FILE) and moves each word piece's",
    "probability towards how often your texts use it (a unigram shift of weight W, default 0.5, 0 = none,",
    "1 = full), leaving the default model's knowledge of which piece follows which untouched: general",
    "English is not forgotten and your texts are not memorised. W and the corpus hash go into the file.",
    "Output: DIR/<hash>/lm.gguf and embedder.gguf (the default embedder, copied; default DIR:",
    "$SOPHONT_HOME/models/adapted). Sophont uses them only when told: set \"model\" and \"embedder\" in",
    "config.json (or SOPHONT_MODEL and SOPHONT_EMBEDDER) to the two paths printed; every decision then",
    "names the adapted model's hash. Deterministic: the same texts and W give the same bytes.",
  ].join("\n"),
  options: { corpus: { type: "string" }, weight: { type: "string" }, out: { type: "string" }, json: { type: "boolean" } },
  run: async (ctx, v) => {
    const corpus = v.corpus as string | undefined;
    if (!corpus) throw new UsageError("--corpus DIR|FILE is required: a folder of your .txt/.md texts");
    const weight = Number(v.weight ?? 0.5);
    if (!Number.isFinite(weight) || weight < 0 || weight > 1) throw new UsageError("--weight takes a number from 0 to 1");
    const bar = progress("  adapting");
    const built = await adaptEnglishModels({
      corpus: resolve(corpus), weight, outDir: resolve((v.out as string | undefined) ?? join(ctx.config.home, "models", "adapted")),
      onProgress: (done, total) => bar.update(done, total),
    });
    bar.done();
    if (v.json) return void ctx.out(JSON.stringify({ lmPath: built.lmPath, embedderPath: built.embedderPath, hash: built.hash, cached: built.cached, weight, files: built.files, pieces: built.pieces }));
    ctx.out(`${built.cached ? "already built" : `adapted on ${built.files} file(s), ${built.pieces} pieces, weight ${weight}`}:\n  ${built.lmPath}\n  ${built.embedderPath}`);
    ctx.out(`to use them: SOPHONT_MODEL=${built.lmPath} SOPHONT_EMBEDDER=${built.embedderPath} (or "model"/"embedder" in config.json)`);
  },
});
