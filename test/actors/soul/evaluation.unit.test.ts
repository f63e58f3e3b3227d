import { describe, expect, it } from "vitest";
import { ANCHOR_SPLIT, isAnchorEval, requestTraining, tinyRecipe } from "../../../actors/muscle/request.ts";
import { defaultBounds, judgeAdapter, type Measured, type SetScore } from "../../../actors/soul/evaluation.ts";
import { ledgers } from "../../../projections/ledgers.projection.ts";
import { lineage } from "../../../projections/lineage.projection.ts";
import { loadProbe } from "../../../adapters/training/probe.ts";
import { tinyModels } from "../../adapters/llm/support.ts";
import { englishModels } from "../../../adapters/llm/english/models.ts";

const set = (ppl: number, tokens = 100): SetScore => ({ texts: 10, tokens, meanNll: Math.log(ppl) });
const measured = (over: Partial<Measured> = {}): Measured => ({
  jobId: "j", adapterSha256: "a", baselineSha256: null,
  trained: { before: set(20), after: set(15) }, heldOut: { before: set(20), after: set(18) }, anchor: { before: set(10), after: set(10.5) },
  probe: { before: set(30), after: set(30.3), unknownShare: 0.4 },
  ...over,
});
const bounds = { ...defaultBounds, maxProbeRise: 0.02 };
const verdict = (m: Measured) => judgeAdapter(m, bounds).map((d) => d.event);

describe("the evaluation gate", () => {
  it("promotes within every bound and records every number, the probe set's included", () => {
    const [evaluated, decided] = verdict(measured());
    expect(decided!.type).toBe("AdapterPromoted");
    if (evaluated!.type !== "AdapterEvaluated") throw new Error("no evaluation");
    expect(evaluated.data.bounds).toEqual({ minGain: 0, maxForgetting: 0.1, maxProbeRise: 0.02 });
    expect(evaluated.data.gain).toBeCloseTo(0.1, 6);
    expect(evaluated.data.forgetting).toBeCloseTo(0.05, 6);
    expect(evaluated.data.probe).toMatchObject({ before: expect.closeTo(30, 6), rise: expect.closeTo(0.01, 6), unknownShare: 0.4 });
  });

  it("rolls back when the general probe rises past its bound, though held-out and anchor look fine", () => {
    const [, decided] = verdict(measured({ probe: { before: set(30), after: set(31), unknownShare: null } }));
    expect(decided!.type).toBe("AdapterRolledBack");
    if (decided!.type === "AdapterRolledBack") expect(decided!.data.reason).toMatch(/general probe perplexity rose 3.3%, more than the maximum 2.0%/);
  });

  it("bounds the probe by default: a job that improves the domain while general English gets worse is rolled back", () => {
    // The shape measured on the default English models with the tiny models' learning rate: the
    // domain and the anchor (domain texts too) improve, the general probe's perplexity rises 25x.
    const m = measured({ heldOut: { before: set(849), after: set(444) }, anchor: { before: set(616), after: set(135) }, probe: { before: set(564), after: set(14_027), unknownShare: 0 } });
    const [evaluated, decided] = judgeAdapter(m, defaultBounds).map((d) => d.event);
    expect(defaultBounds.maxProbeRise).toBe(0.05);
    expect(decided!.type).toBe("AdapterRolledBack");
    if (decided!.type === "AdapterRolledBack") expect(decided!.data.reason).toMatch(/general probe perplexity rose 2387\.\d%, more than the maximum 5\.0%/);
    if (evaluated!.type === "AdapterEvaluated") expect(evaluated.data.bounds.maxProbeRise).toBe(0.05);
  });

  it("rolls back on forgetting of the anchor's evaluation part", () => {
    const [, decided] = verdict(measured({ anchor: { before: set(10), after: set(12) } }));
    expect(decided!.type).toBe("AdapterRolledBack");
  });
});

describe("the Golden Anchor's split", () => {
  it("is a recorded rule on the entry's id: evaluation entries are never in the replay part", () => {
    const l = ledgers.initialState();
    for (let i = 0; i < 40; i++) l.anchor.set(`anchor-${i}`, { anchorId: `anchor-${i}`, seq: i, contentSha256: `s${i}` });
    for (const id of ["a1", "b2"]) l.sft.set(id, { inputId: id, seq: 100, nightId: "n", contentSha256: id, question: null, similarity: 1, surprise: 0 });
    const r = requestTraining(l, lineage.initialState(), { jobId: "j", host: null, recipe: tinyRecipe, baseModelSha256: "b", atSeq: 1, deadlineMs: 1, requestedBy: "t" });
    const evalIds = new Set(r.ledger.anchorEval!.map((e) => e.id));
    expect(r.ledger.anchor.some((e) => evalIds.has(e.id))).toBe(false);
    expect(r.ledger.anchor.length + evalIds.size).toBe(40);
    expect(evalIds.size).toBeGreaterThan(10);
    expect(r.ledger.anchor.length).toBeGreaterThan(10);
    expect(r.ledger.anchorSplit).toBe(ANCHOR_SPLIT);
    expect([...evalIds].every(isAnchorEval)).toBe(true);
  });
});

describe("the general-English probe set", () => {
  it("ships forty sentences, and says what share of its tokens the tiny model does not know", () => {
    const probe = loadProbe(tinyModels().lmPath);
    expect(probe.texts).toHaveLength(40);
    // Measured: 42.6% of its 507 words are outside the tiny model's six-topic vocabulary.
    expect(probe.unknownShare).toBeGreaterThan(0.3);
    expect(probe.unknownShare).toBeLessThan(0.6);
    console.log(`probe set: ${(probe.unknownShare! * 100).toFixed(1)}% of its tokens unknown to the tiny model`);
  });
  it("is all known to the default English models (byte fallback: no text has an unknown piece)", () => {
    expect(loadProbe(englishModels().lmPath).unknownShare).toBe(0);
  });
});
