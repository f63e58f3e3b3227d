import { readFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { defineCommand } from "../command.ts";
import { UsageError } from "../format.ts";
import { openRuntime } from "../runtime.ts";
import { openModels } from "../models.ts";
import { parseQuestions, seedPreoccupation } from "../../ingest/preoccupation.ts";

export const preoccupationSeed = defineCommand({
  path: ["preoccupation", "seed"],
  summary: "seed the Preoccupation Centroid with the questions the domain asks",
  usage: "sophont preoccupation seed FILE [--json]",
  details: [
    "FILE has one question per line (lines starting with # are comments) or JSON Lines with a `question`",
    "field. Each question is embedded and appended as PreoccupationSeeded; the centroid is their running",
    "mean, and after each night it moves towards the night's accepted questions (10% per night). Seeding",
    "the same question again adds nothing.",
  ].join("\n"),
  options: { json: { type: "boolean" } },
  run: async (ctx, v, args) => {
    if (args.length !== 1) throw new UsageError("name one file of questions");
    let text: string;
    try {
      text = readFileSync(args[0]!, "utf8");
    } catch (e) {
      throw new UsageError(`cannot read ${args[0]}: ${(e as Error).message}`);
    }
    const { questions, skipped } = parseQuestions(text);
    if (questions.length === 0) throw new UsageError(`${args[0]} holds no question`);
    const rt = await openRuntime(ctx.config, ctx.err);
    const models = await openModels(ctx.config, ctx.err);
    try {
      const added = await seedPreoccupation(rt.store, models.salience, questions, randomUUID());
      if (v.json) return void ctx.out(JSON.stringify({ questions: questions.length, added, skipped }));
      ctx.out(`${added} question(s) seeded (${questions.length - added} already there)`);
      for (const s of skipped) ctx.err(`  skipped line ${s.line}: ${s.why}`);
    } finally {
      await models.close();
      await rt.close();
    }
  },
});
