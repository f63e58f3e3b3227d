import { Effect } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenLanguageModel, openLanguageModel } from "../../../adapters/llm/model.ts";
import { readGguf, readTensorF32 } from "../../../adapters/llm/gguf/reader.ts";
import type { PerplexityResult } from "../../../adapters/llm/ports.ts";
import { corpusLines, randomText, shuffleWords, tinyModels, TOPICS } from "./support.ts";

let lm: OpenLanguageModel;
const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e);

beforeAll(async () => {
  lm = await run(openLanguageModel({ modelPath: tinyModels().lmPath, contextSize: 512, threads: 1 }));
});
afterAll(() => lm?.dispose());

const heldout = (topic: string) => corpusLines("heldout", topic).slice(0, 12).join(" ");
const jsonText = JSON.stringify({ id: 42, items: [{ name: "widget", price: 9.99, tags: ["a", "b"] }, { name: "gadget", price: 19.5 }], ok: true, next: null });

describe("tiny LM perplexity", () => {
  it("is at least 3x lower on held-out in-distribution text than on shuffled text, JSON and random bytes", async () => {
    const texts = TOPICS.flatMap((t, i) => [heldout(t), shuffleWords(heldout(t), 100 + i)]);
    const r = await run(lm.perplexity([...texts, jsonText, randomText(400, 9)]));
    const ppl = r.map((x) => x.perplexity);
    const inDomain = TOPICS.map((_, i) => ppl[2 * i]!);
    const shuffled = TOPICS.map((_, i) => ppl[2 * i + 1]!);
    const [json, bytes] = ppl.slice(-2) as [number, number];
    const worst = Math.max(...inDomain);
    console.log(`[perplexity] held-out ${inDomain.map((x) => x.toFixed(1)).join(", ")} | shuffled ${shuffled.map((x) => x.toFixed(0)).join(", ")} | JSON ${json.toFixed(0)} | random ${bytes.toFixed(0)}`);
    TOPICS.forEach((_, i) => expect(shuffled[i]!).toBeGreaterThan(3 * inDomain[i]!));
    expect(json).toBeGreaterThan(3 * worst);
    expect(bytes).toBeGreaterThan(3 * worst);
    expect(r[0]!.tokenCount).toBeGreaterThan(100);
  });

  it("scores a topic it never saw (the corpus's novel split) far above the ones it knows", async () => {
    const novel = corpusLines("novel", "beekeeping").slice(0, 12).join(" ");
    const [known, unseen] = await run(lm.perplexity([heldout("gardening"), novel]));
    console.log(`[perplexity] held-out gardening ${known!.perplexity.toFixed(1)} vs novel beekeeping ${unseen!.perplexity.toFixed(0)}`);
    expect(unseen!.perplexity).toBeGreaterThan(3 * known!.perplexity);
  });

  it("equals an independent computation from the same log-probabilities (1e-6 relative)", async () => {
    const [r] = await run(lm.perplexity([heldout("cooking")], { surprisal: true }));
    const s = r!.surprisal!;
    // Independent: geometric mean of probabilities, computed as a product in log space with Kahan summation.
    let sum = 0, c = 0;
    for (const { nll } of s) { const y = -nll - c; const t = sum + y; c = (t - sum) - y; sum = t; }
    const independent = 1 / Math.exp(sum / s.length);
    expect(Math.abs(r!.perplexity - independent) / independent).toBeLessThan(1e-6);
    expect(r!.tokenCount).toBe(s.length);
  });

  it("returns exactly the compiled bigram log-probabilities (float32 logits)", async () => {
    const path = tinyModels().lmPath;
    const file = readGguf(path);
    const out = readTensorF32(path, file, "output.weight");
    const n = Math.round(Math.sqrt(out.length));
    const [r] = await run(lm.perplexity(["The sailor trimmed the jib."], { surprisal: true }));
    const ids = [2, ...r!.surprisal!.map((x) => x.token)]; // [CLS] then the scored tokens
    r!.surprisal!.forEach(({ token, nll }, i) => {
      const logits = Array.from({ length: n }, (_, j) => out[j * n + ids[i]!]!);
      const max = Math.max(...logits);
      const lse = max + Math.log(logits.reduce((a, l) => a + Math.exp(l - max), 0));
      expect(nll).toBeCloseTo(lse - logits[token]!, 4);
    });
  });

  it("scores long texts with a sliding window that agrees with a single pass", async () => {
    const long = TOPICS.map((t) => corpusLines("heldout", t).slice(20, 26).join(" ")).join(" ");
    const [single] = await run(lm.perplexity([long], { surprisal: true }));
    expect(single!.tokenCount).toBeGreaterThan(300);
    expect(single!.tokenCount).toBeLessThan(511);
    // Windows of 64 with stride 24: 14 windows. A bigram model sees only the previous token, so
    // every per-token value must match the single pass, not just the total.
    const [windowed] = await run(lm.perplexity([long], { surprisal: true, window: 64, stride: 24 }));
    expect(windowed!.tokenCount).toBe(single!.tokenCount);
    expect(Math.abs(windowed!.perplexity - single!.perplexity) / single!.perplexity).toBeLessThan(1e-6);
    windowed!.surprisal!.forEach((x, i) => expect(Math.abs(x.nll - single!.surprisal![i]!.nll)).toBeLessThan(1e-5));
  });

  it("scores several texts in one call with the same result as one by one", async () => {
    const texts = TOPICS.map(heldout);
    const together = await run(lm.perplexity(texts));
    const alone: PerplexityResult[] = [];
    for (const t of texts) alone.push((await run(lm.perplexity([t])))[0]!);
    together.forEach((r, i) => expect(r.perplexity).toBeCloseTo(alone[i]!.perplexity, 6));
  });

  it("identifies the model by sha256 and says it cannot follow instructions", () => {
    expect(lm.identity.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(lm.identity.architecture).toBe("llama");
    expect(lm.identity.instructionFollowing).toBe(false);
  });
});
