import { describe, expect, it } from "vitest";
import { bestOf, chooseCandidate, type Before, type Candidate, type CandidateScores } from "../../../actors/soul/candidates.ts";
import { defaultBounds, type SetScore } from "../../../actors/soul/evaluation.ts";

const set = (ppl: number, tokens = 100): SetScore => ({ texts: 10, tokens, meanNll: Math.log(ppl) });
const before: Before = { trained: set(20), heldOut: set(20), anchor: set(10), probe: set(30), unknownShare: 0.4 };
const candidate = (method: Candidate["method"], rank = 8, params: Record<string, number> = {}): Candidate => ({ method, params, sha256: `sha-${method}-${rank}`, rank, reconstructionError: 0, folded: false });
const scored = (c: Candidate, heldOut: number, anchor = 10, probe = 30): CandidateScores => ({ candidate: c, heldOut: set(heldOut), anchor: set(anchor), probe: set(probe) });
const bounds = { ...defaultBounds, maxProbeRise: 0.02 };
const choose = (scores: CandidateScores[]) => chooseCandidate({ jobId: "j", baselineSha256: "served" }, before, scores, bounds);

describe("the choice among candidates", () => {
  it("promotes the best held-out gain among those within bounds and records every candidate's numbers", () => {
    const { decisions, chosen } = choose([
      scored(candidate("stack"), 18),
      scored(candidate("ties"), 16, 12), // the best gain, but it forgets 20% of the anchor
      scored(candidate("task-arithmetic", 8, { lambda: 1.5 }), 17),
      scored(candidate("dare"), 17.5, 10, 31), // the probe rises 3.3%
    ]);
    expect(chosen.method).toBe("task-arithmetic");
    const [evaluated, verdict] = decisions.map((d) => d.event);
    expect(verdict).toMatchObject({ type: "AdapterPromoted", data: { adapterSha256: "sha-task-arithmetic-8", previousSha256: "served" } });
    if (evaluated!.type !== "AdapterEvaluated") throw new Error("no evaluation");
    expect(evaluated.data.adapterSha256).toBe("sha-task-arithmetic-8");
    expect(evaluated.data.gain).toBeCloseTo(0.15, 6);
    expect(evaluated.data.chosen).toMatchObject({ method: "task-arithmetic", reason: "best held-out gain among the 2 of 4 candidate(s) within bounds" });
    expect(evaluated.data.candidates!.map((c) => [c.method, c.withinBounds, Number(c.gain.toFixed(3))])).toEqual([
      ["stack", true, 0.1], ["ties", false, 0.2], ["task-arithmetic", true, 0.15], ["dare", false, 0.125],
    ]);
    expect(evaluated.data.candidates![2]!.params).toEqual({ lambda: 1.5 });
  });

  it("rolls back the best of them when none is within bounds, and the serving adapter stays", () => {
    const { decisions, chosen } = choose([scored(candidate("stack"), 21), scored(candidate("fold", 16), 25)]);
    expect(chosen.method).toBe("stack");
    const [evaluated, verdict] = decisions.map((d) => d.event);
    expect(verdict).toMatchObject({ type: "AdapterRolledBack", data: { adapterSha256: "sha-stack-8", servingSha256: "served" } });
    if (evaluated!.type === "AdapterEvaluated") expect(evaluated.data.chosen!.reason).toMatch(/none of the 2/);
  });

  it("prefers, at equal gain, the lower rank", () => {
    const same = { heldOut: { texts: 1, tokens: 1, before: 2, after: 1 }, anchor: { texts: 1, tokens: 1, before: 2, after: 2 }, probeAfter: null, forgetting: 0, rise: 0, withinBounds: true, gain: 0.5, params: {}, sha256: "x" };
    expect(bestOf([{ ...same, method: "stack", rank: 16 }, { ...same, method: "fold", rank: 8 }])).toBe(1);
  });
});

describe("the probe bound over a season", () => {
  it("holds against the base model, so small rises cannot compound past it", () => {
    // Serving already sits 1.5% above the base; a candidate 1% above serving is 2.5% above the base.
    const over = { ...before, probe: set(30 * 1.015), probeBase: set(30) };
    const { decisions } = chooseCandidate({ jobId: "j", baselineSha256: "served" }, over, [scored(candidate("stack"), 18, 10, 30 * 1.015 * 1.01)], bounds);
    const [evaluated, verdict] = decisions.map((d) => d.event);
    expect(verdict!.type).toBe("AdapterRolledBack");
    if (evaluated!.type === "AdapterEvaluated") expect(evaluated.data.probe).toMatchObject({ base: expect.closeTo(30, 6), rise: expect.closeTo(0.02515, 4) });
  });
});
