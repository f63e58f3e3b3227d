import { describe, expect, it } from "vitest";
import { driftSvg } from "../../../adapters/report/charts.ts";
import { nightBarsSvg } from "../../../adapters/report/bars.ts";
import { scatterSvg } from "../../../adapters/report/scatter.ts";
import { colourOf, num, ticks } from "../../../adapters/report/axes.ts";

const traj = (id: string, n: number, step: number) => ({ id, points: Array.from({ length: n }, (_, i) => ({ label: `night ${i + 1}`, vector: [i * step, i * step * 0.5, 1] })) });

describe("the drift chart", () => {
  it("has axes with values and keeps every label inside the picture", () => {
    const svg = driftSvg([traj("preoccupation", 4, 0.1), traj("satellite-beekeeping", 3, -0.05)], "drift", 640);
    expect(svg).toContain("first principal axis of the moves");
    expect(svg).toContain("second principal axis");
    expect((svg.match(/<line /g) ?? []).length).toBeGreaterThanOrEqual(2 + 4); // two axes and their ticks
    expect(svg).toMatch(/text-anchor="end">-?\d+(\.\d+)?</); // a value on the y axis
    expect(svg).toContain(">night 1<"); // dots carry their night
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

describe("the night bars", () => {
  it("have a y axis of counts, each night's label under its bar and its total above it", () => {
    const svg = nightBarsSvg([
      { nightId: "n1", label: "11-01", counts: { accepted: 7, rejected: 13, shadow: 1, refused: 0 } },
      { nightId: "n2", label: "11-02", counts: { accepted: 15, rejected: 13, shadow: 0, refused: 2 } },
      { nightId: "n3", label: "11-03", counts: null },
    ]);
    expect(svg).toContain("inputs decided");
    expect(svg).toMatch(/text-anchor="end">30</); // the axis reaches the largest total
    for (const label of ["11-01", "11-02", "11-03"]) expect(svg).toContain(`>${label}<`);
    expect(svg).toContain(">21<");
    expect(svg).toContain(">30<");
    expect(svg).toContain(">open<"); // a night not completed says so
    expect(svg).toContain("<title>n1: 13 rejected</title>");
  });
});

describe("the Antechamber scatter", () => {
  const pts = [
    { inputId: "a", vector: [1, 0, 0], clusterId: "ac-1", question: "How do bees make honey?" },
    { inputId: "b", vector: [0.9, 0.1, 0], clusterId: "ac-1", question: "Why do bees swarm?" },
    { inputId: "c", vector: [0, 1, 0], clusterId: null, question: null },
  ];
  it("has a title, axes with values, the question on hover and births starred", () => {
    const svg = scatterSvg(pts, [{ satelliteId: "sat-1", vector: [0.95, 0.05, 0], seq: 42 }], "The Antechamber");
    expect(svg).toContain(">The Antechamber<");
    expect(svg).toContain("first principal axis of the rejected questions");
    expect(svg).toContain("second principal axis");
    expect(svg).toContain("How do bees make honey?");
    expect(svg).toContain('data-satellite="sat-1"');
    expect(svg).toContain("sat-1 born (event 42)");
  });
  it("colours a cluster by its identity, whatever else is drawn", () => {
    const fill = (svg: string) => /data-cluster="ac-1"[^>]*fill="(#[0-9a-f]+)"/.exec(svg)?.[1];
    const alone = scatterSvg(pts, [], "t");
    const withOthers = scatterSvg([...pts, { inputId: "d", vector: [0, 0, 1], clusterId: "ac-0", question: "q" }, { inputId: "e", vector: [0, 0.1, 1], clusterId: "ac-0", question: "q" }], [], "t");
    expect(fill(alone)).toBeDefined();
    expect(fill(withOthers)).toBe(fill(alone));
    expect(colourOf("ac-1")).toBe(fill(alone));
  });
});

describe("axis ticks", () => {
  it("are round numbers covering the range", () => {
    expect(ticks(0, 30)).toEqual([0, 10, 20, 30]);
    expect(ticks(0, 7)).toEqual([0, 2, 4, 6]);
    expect(ticks(-0.013, 0.021)).toEqual([-0.01, 0, 0.01, 0.02]);
    expect(ticks(2, 2)).toEqual([2]);
  });
});

describe("numbers in the report and the dashboard", () => {
  it("are read as people read them: a diverged perplexity is ∞, not 1.80e+308", () => {
    expect(num(Number.MAX_VALUE, 2)).toBe("∞");
    expect(num(Infinity, 2)).toBe("∞");
    expect(num(-Infinity)).toBe("-∞");
    expect(num(2.5e7, 2)).toBe("2.50e+7");
    expect(num(381.4512, 2)).toBe("381.45");
    expect(num(undefined)).toBe("-");
  });
});
