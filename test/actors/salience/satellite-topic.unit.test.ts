// Where a question belongs once a satellite is born: measured on each centroid's own scale.
import { describe, expect, it } from "vitest";
import { satelliteCalibration } from "../../../actors/salience/calibration.ts";
import { calibratedVerdicts, MIN_SPREAD, salience3Policy } from "../../../actors/salience/salience.policy.ts";

const refs = (value: number, median: number, spread: number) => ({ source: "accepted" as const, references: 20, median, spread, value });
/** A text as far from the seeded questions as the domain's references are: z 0 on similarity and gain. */
const base = { coherence: refs(2.5, 2.5, 0.1), similarity: refs(0.3, 0.3, 0.05), domain: refs(0, 0, 0.1) };
const cohesion = { median: 0.83, spread: 0.04, members: 7 };

describe("a satellite's topic", () => {
  it("is where the question stands among the satellite's members, in robust spreads, not a raw cosine against acceptSimilarity", () => {
    // 0.70 in raw cosine is far above acceptSimilarity (0.35) but 3.25 spreads below the members' median.
    const far = { ...base, satellite: { satelliteId: "satellite-1", ...satelliteCalibration(cohesion, 0.7, MIN_SPREAD.similarity) } };
    expect(calibratedVerdicts(far, { id: "satellite-1", similarity: 0.7 }, salience3Policy)).toMatchObject({ topic: expect.closeTo(-3.25, 9), onTopic: false });
    const among = { ...base, satellite: { satelliteId: "satellite-1", ...satelliteCalibration(cohesion, 0.8, MIN_SPREAD.similarity) } };
    expect(calibratedVerdicts(among, { id: "satellite-1", similarity: 0.8 }, salience3Policy)).toMatchObject({ topic: expect.closeTo(-0.75, 9), onTopic: true });
  });

  it("records its members as the references, and never a spread below the similarity floor", () => {
    expect(satelliteCalibration({ median: 0.9, spread: 0, members: 5 }, 0.85, MIN_SPREAD.similarity)).toEqual({ source: "members", references: 5, median: 0.9, spread: MIN_SPREAD.similarity, value: 0.85 });
  });

  it("without a cohesion (a satellite born before it was recorded), the old rule: the raw similarity against acceptSimilarity", () => {
    expect(calibratedVerdicts(base, { id: "satellite-1", similarity: 0.7 }, salience3Policy).onTopic).toBe(true);
  });
});
