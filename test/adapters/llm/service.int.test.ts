import { Effect } from "effect";
import { describe, expect, it } from "vitest";
import { EmbedderService, embedderLayer } from "../../../adapters/llm/embedding.ts";
import { LanguageModelService, languageModelLayer } from "../../../adapters/llm/model.ts";
import { tinyModels } from "./support.ts";

describe("the model services as Effect layers", () => {
  it("acquire the models for a scope, serve both ports and release them", async () => {
    const { lmPath, embedderPath } = tinyModels();
    const program = Effect.gen(function* () {
      const lm = yield* LanguageModelService;
      const embedder = yield* EmbedderService;
      const [scored, empty] = yield* lm.perplexity(["The cook stirred the soup.", ""]);
      const [vector] = yield* embedder.embed(["The cook stirred the soup."]);
      return { scored: scored!, empty: empty!, dimension: vector!.length, follows: lm.identity.instructionFollowing };
    });
    const r = await Effect.runPromise(program.pipe(
      Effect.provide(languageModelLayer({ modelPath: lmPath, contextSize: 128 })),
      Effect.provide(embedderLayer({ modelPath: embedderPath })),
    ));
    expect(r.scored.tokenCount).toBe(6); // the cook stirred the soup . (each scored, the first from [CLS])
    expect(r.empty).toEqual({ perplexity: 1, meanNll: 0, tokenCount: 0 });
    expect(r.dimension).toBe(48);
    expect(r.follows).toBe(false);
  });
});
