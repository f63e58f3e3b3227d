// How sure the local coherence verdict is: what decides whether the frontier judge is asked.
import { describe, expect, it } from "vitest";
import { calibratedVerdicts, fallbackConfidence, salience3Policy, uncalibratedPolicy } from "../../../actors/salience/salience.policy.ts";

const refs = (value: number, references = 20) => ({ source: "accepted" as const, references, median: 2.5, spread: 0.1, value });
const calibration = (coherenceValue: number, references = 20) => ({ coherence: refs(coherenceValue, references), similarity: refs(0.5), domain: refs(0) });
const near = { id: "preoccupation", similarity: 0.5 };

describe("the local verdict's confidence", () => {
  // salience-3: limit = median 2.5 + max(floor 0.5, 4 x spread 0.1) = 3.0, margin 0.5
  it("follows the calibrated bound: 0 at the limit, 1 a margin or more away, on either side", () => {
    expect(calibratedVerdicts(calibration(3.0), near, salience3Policy).coherenceConfidence).toBeCloseTo(0, 9);
    expect(calibratedVerdicts(calibration(2.75), near, salience3Policy).coherenceConfidence).toBeCloseTo(0.5, 9);
    expect(calibratedVerdicts(calibration(3.25), near, salience3Policy)).toMatchObject({ coherenceConfidence: expect.closeTo(0.5, 9), coherence: { coherent: false } });
    expect(calibratedVerdicts(calibration(2.5), near, salience3Policy).coherenceConfidence).toBe(1);
    expect(calibratedVerdicts(calibration(9), near, salience3Policy).coherenceConfidence).toBe(1);
  });

  it("is 0 when there are no references: the verdict is a default, not a measurement", () => {
    const v = calibratedVerdicts(calibration(2.5, 0), near, salience3Policy);
    expect(v.coherence.coherent).toBe(true);
    expect(v.coherenceConfidence).toBe(0);
  });

  it("uncalibrated: the margin from uniformFraction of a uniform guess", () => {
    const lnV = Math.log(1000);
    expect(fallbackConfidence(uncalibratedPolicy.uniformFraction * lnV, 1000, uncalibratedPolicy)).toBeCloseTo(0, 9);
    expect(fallbackConfidence(0.425 * lnV, 1000, uncalibratedPolicy)).toBeCloseTo(0.5, 9);
    expect(fallbackConfidence(0, 1000, uncalibratedPolicy)).toBe(1);
  });
});
