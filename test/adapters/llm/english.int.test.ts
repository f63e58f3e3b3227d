import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { adaptEnglishModels } from "../../../adapters/llm/english/adapt.ts";
import { Effect } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openEmbedder, type OpenEmbedder } from "../../../adapters/llm/embedding.ts";
import { openLanguageModel, type OpenLanguageModel } from "../../../adapters/llm/model.ts";
import { englishModels } from "../../../adapters/llm/english/models.ts";
import { cosine } from "../../../events/vectors.ts";
import type { EventStore } from "../../../events/store.ts";
import { salienceModelOn } from "../../../adapters/llm/salience-model.ts";
import { seedPreoccupation, ZeroVectorQuestionError } from "../../../adapters/ingest/preoccupation.ts";

/**
 * The shipped default English models on real English nobody on the project wrote and the build never
 * read: the licence texts every Debian system carries (/usr/share/common-licenses).
 */
const paragraphs = (path: string): string[] =>
  readFileSync(path, "utf8").split(/\n\s*\n/).map((p) => p.replace(/\s+/g, " ").trim()).filter((p) => p.split(" ").length >= 25);
const HELD_OUT = [...paragraphs("/usr/share/common-licenses/Apache-2.0"), ...paragraphs("/usr/share/common-licenses/GPL-3")].slice(0, 40);

/** Deterministic shuffles and mash, so the test is the same on every run. */
const rng = (seed: number) => () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const shuffled = (text: string, r: () => number) => {
  const w = text.split(" ");
  for (let i = w.length - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [w[i], w[j]] = [w[j]!, w[i]!]; }
  return w.join(" ");
};
const mash = (n: number, r: () => number) => Array.from({ length: n }, () => "asdfghjkl;qwertyuiop zxcvbnm,."[Math.floor(r() * 30)]).join("");

let lm: OpenLanguageModel;
let embedder: OpenEmbedder;
beforeAll(async () => {
  const m = englishModels();
  lm = await Effect.runPromise(openLanguageModel({ modelPath: m.lmPath, threads: 1, probe: false }));
  embedder = await Effect.runPromise(openEmbedder({ modelPath: m.embedderPath, threads: 1, probe: false }));
}, 120_000);
afterAll(async () => { await lm?.dispose(); await embedder?.dispose(); });

const bitsPerByte = async (texts: string[]): Promise<number> => {
  const scored = await Effect.runPromise(lm.perplexity(texts));
  const nats = scored.reduce((s, r) => s + r.meanNll * r.tokenCount, 0);
  const bytes = texts.reduce((s, t) => s + Buffer.byteLength(t), 0);
  return nats / Math.LN2 / bytes;
};

describe("default English models", () => {
  it("tokenize real English and odd bytes with no unknown piece (byte fallback)", async () => {
    const unk = 0;
    for (const text of [...HELD_OUT, "Ünïcödé — naïve café, 東京, emoji 🛰️, tabs\tand\u0007bell"]) {
      const ids = await Effect.runPromise(lm.tokenize(text));
      expect(ids.length).toBeGreaterThan(1);
      expect(ids.filter((t) => t === unk)).toEqual([]);
    }
  });

  it("give held-out English far fewer bits per byte than shuffled words, keyboard mash or repetition", async () => {
    const r = rng(7);
    const english = await bitsPerByte(HELD_OUT);
    const shuffledBpb = await bitsPerByte(HELD_OUT.map((t) => shuffled(t, r)));
    const mashBpb = await bitsPerByte(Array.from({ length: 20 }, () => mash(300, r)));
    const repeated = await bitsPerByte(["the the the the the the the the the the the the the the the the", "zq zq zq zq zq zq zq zq zq zq zq zq zq zq zq zq zq zq zq zq"]);
    expect(english).toBeLessThan(ENGLISH_MAX_BPB);
    expect(shuffledBpb).toBeGreaterThan(english + 0.3);
    expect(mashBpb).toBeGreaterThan(5);
    expect(repeated).toBeGreaterThan(english);
  }, 300_000);

  it("embed texts of one topic nearer each other than texts of another", async () => {
    const [a1, a2, b1, b2] = await Effect.runPromise(embedder.embed([
      "The telescope recorded the spectrum of a distant galaxy and the redshift of its stars.",
      "Astronomers measured the orbit of the planet around its star with a large telescope.",
      "The recipe needs flour, butter, sugar and two eggs, baked in a hot oven for an hour.",
      "Knead the dough, let the bread rise, then bake it until the crust is brown.",
    ]));
    expect(cosine(a1!, a2!)).toBeGreaterThan(cosine(a1!, b1!));
    expect(cosine(a1!, a2!)).toBeGreaterThan(cosine(a2!, b2!));
    expect(cosine(b1!, b2!)).toBeGreaterThan(cosine(b1!, a2!));
  });

  it("embed an empty text as the zero vector, and seeding refuses such a question before appending anything", async () => {
    const [v] = await Effect.runPromise(embedder.embed([""]));
    expect(Math.hypot(...v!)).toBe(0);
    const appended: unknown[] = [];
    const store = { append: async (events: unknown[]) => (appended.push(...events), []) } as unknown as EventStore;
    const seeding = seedPreoccupation(store, salienceModelOn(lm, embedder), ["Which stars have planets?", ""], "zero-test");
    await expect(seeding).rejects.toBeInstanceOf(ZeroVectorQuestionError);
    await expect(seeding).rejects.toThrow(/zero vector.*nothing was seeded/);
    expect(appended).toEqual([]);
  });
});

describe("model adapt", () => {
  it("fits the LM to a user's texts (lower bits per byte on more of the same) without forgetting general English", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sophont-adapt-"));
    try {
      const apache = paragraphs("/usr/share/common-licenses/Apache-2.0");
      writeFileSync(join(dir, "mine.txt"), apache.filter((_, i) => i % 2 === 0).join("\n\n"));
      const built = await adaptEnglishModels({ corpus: join(dir, "mine.txt"), outDir: dir, weight: 0.5 });
      const adapted = await Effect.runPromise(openLanguageModel({ modelPath: built.lmPath, threads: 1, probe: false }));
      try {
        const bpbOn = async (m: OpenLanguageModel, texts: string[]) => {
          const r = await Effect.runPromise(m.perplexity(texts));
          return r.reduce((s, x) => s + x.meanNll * x.tokenCount, 0) / Math.LN2 / texts.reduce((s, t) => s + Buffer.byteLength(t), 0);
        };
        const sameKind = apache.filter((_, i) => i % 2 === 1);
        const general = ["The cat sat by the fire while the rain fell on the roof of the old house.", "Birds migrate south in the autumn to find food and warmer weather."];
        expect(await bpbOn(adapted, sameKind)).toBeLessThan(await bpbOn(lm, sameKind));
        expect(await bpbOn(adapted, general)).toBeLessThan((await bpbOn(lm, general)) + 0.3);
      } finally { await adapted.dispose(); }
    } finally { rmSync(dir, { recursive: true, force: true }); }
  }, 300_000);
});

const ENGLISH_MAX_BPB = 3;
