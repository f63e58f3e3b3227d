import { describe, expect, it } from "vitest";
import { driftSvg } from "../../../adapters/report/charts.ts";

const traj = (id: string, n: number, step: number) => ({ id, points: Array.from({ length: n }, (_, i) => ({ label: `night ${i + 1}`, vector: [i * step, i * step * 0.5, 1] })) });

describe("the drift chart", () => {
  it("has axes with values and keeps every label inside the picture", () => {
    const svg = driftSvg([traj("preoccupation", 4, 0.1), traj("satellite-beekeeping", 3, -0.05)], "drift", 640);
    expect(svg).toContain("first principal axis of the moves");
    expect(svg).toContain("second principal axis");
    expect((svg.match(/<line /g) ?? []).length).toBe(2);
    expect(svg).toMatch(/>-?\d+\.\d{3}</);
    for (const m of svg.matchAll(/<text x="([-\d.]+)"[^>]*text-anchor="(start|end)"[^>]*>([^<]+)</g)) {
      const x = Number(m[1]);
      const width = m[3]!.length * 7.5; // generous for 13px sans-serif
      if (m[2] === "start") expect(x + width, m[3]).toBeLessThanOrEqual(640 + 1);
      else expect(x - width, m[3]).toBeGreaterThanOrEqual(0);
    }
  });

  it("says what a single night means instead of drawing an empty square", () => {
    const svg = driftSvg([traj("preoccupation", 1, 0)], "drift");
    expect(svg).toContain("one night so far");
    expect(svg).not.toContain("<polyline");
  });
});
