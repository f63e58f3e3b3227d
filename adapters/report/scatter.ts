import { colourOf, esc, frameSvg, scaleX, scaleY, type Frame } from "./axes.ts";
import { principalAxes } from "./charts.ts";

export interface ScatterPoint {
  readonly inputId: string;
  readonly vector: ReadonlyArray<number>;
  /** The cluster that last held it (an identity kept across nights), or null: noise. */
  readonly clusterId: string | null;
  /** The distilled question as the airlock lets it be read (null: none, or withheld). */
  readonly question: string | null;
  /** The input's own text where the reader may show it (the hover's fallback when there is no question). */
  readonly text?: string;
}

export interface Birth {
  readonly satelliteId: string;
  readonly vector: ReadonlyArray<number>;
  readonly seq: number;
}

const NOISE = "#bbb";

/**
 * The Antechamber's rejected questions in the plane of their two principal axes, coloured by cluster
 * identity (the same colour for the same cluster on every night and at every point of the log), the
 * satellites' births as stars, and each question's text on hover.
 */
export const scatterSvg = (pts: ReadonlyArray<ScatterPoint>, births: ReadonlyArray<Birth>, title: string, width = 640, height = 460): string => {
  const dim = pts[0]!.vector.length;
  const mean = new Array<number>(dim).fill(0);
  pts.forEach((p) => p.vector.forEach((x, i) => (mean[i]! += x / pts.length)));
  const [a, b] = principalAxes(pts.map((p) => p.vector.map((x, i) => x - mean[i]!)));
  const xy = (v: ReadonlyArray<number>) => [v.reduce((s, x, i) => s + (x - mean[i]!) * a[i]!, 0), v.reduce((s, x, i) => s + (x - mean[i]!) * b[i]!, 0)] as const;
  const proj = pts.map((p) => xy(p.vector));
  const stars = births.map((s) => ({ s, at: xy(s.vector) }));
  const every = [...proj, ...stars.map((s) => s.at)];
  const range = (k: 0 | 1) => {
    const lo = Math.min(...every.map((p) => p[k])), hi = Math.max(...every.map((p) => p[k]));
    const pad = (hi - lo) * 0.05 || 0.01;
    return [lo - pad, hi + pad] as const;
  };
  const f: Frame = { left: 64, top: 40, right: width - 20, bottom: height - 50, x: range(0), y: range(1), xTitle: "first principal axis of the rejected questions", yTitle: "second principal axis" };
  const dots = pts.map((p, i) => {
    const hover = `${p.question ?? p.text ?? "(no text to show)"} — ${p.clusterId ?? "noise"} · ${p.inputId.slice(0, 12)}`;
    return `<circle class="question" data-cluster="${esc(p.clusterId ?? "")}" cx="${scaleX(f, proj[i]![0]).toFixed(1)}" cy="${scaleY(f, proj[i]![1]).toFixed(1)}" r="4" fill="${p.clusterId ? colourOf(p.clusterId) : NOISE}" fill-opacity="0.8"><title>${esc(hover)}</title></circle>`;
  });
  const marks = stars.map(({ s, at }) => {
    const [x, y] = [scaleX(f, at[0]), scaleY(f, at[1])];
    const anchor = x > width / 2 ? "end" : "start";
    return `<g class="birth" data-satellite="${esc(s.satelliteId)}"><text x="${x.toFixed(1)}" y="${y.toFixed(1)}" font-size="22" text-anchor="middle" dominant-baseline="middle" fill="#000">★<title>${esc(`${s.satelliteId} born at event ${s.seq}`)}</title></text><a href="#ev-${s.seq}"><text x="${(anchor === "end" ? x - 14 : x + 14).toFixed(1)}" y="${(y - 10).toFixed(1)}" font-size="11" text-anchor="${anchor}">${esc(s.satelliteId)} born (event ${s.seq})</text></a></g>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" id="antechamber-chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" role="img" aria-label="antechamber"><rect width="100%" height="100%" fill="white"/><text x="${f.left}" y="24" font-size="16">${esc(title)}</text>${frameSvg(f)}${dots.join("")}${marks.join("")}</svg>`;
};

/** The legend: each cluster in its colour, noise, the star. */
export const scatterLegend = (clusterIds: ReadonlyArray<string>): string =>
  `<p class="legend">${clusterIds.map((id) => `<span style="color:${colourOf(id)}">●</span> ${esc(id)}`).join(" ")} <span style="color:${NOISE}">●</span> noise · ★ a satellite's birth · hover a dot for its question (or, without one, its text as the airlock allows)</p>`;
