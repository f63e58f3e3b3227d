// What every chart of the report and the dashboard shares: escaping, the palette, a colour that stays
// with an identity whatever else is drawn, and a frame of two axes with values and titles.

export const esc = (s: string): string => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

export const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22"];

/**
 * A colour for an identity (a cluster, a centroid) from a hash of its id, not from its place in a list:
 * the same cluster keeps its colour across nights and whatever point of the log is drawn.
 */
export const colourOf = (id: string): string => {
  let h = 2166136261;
  for (const ch of id) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return COLOURS[h % COLOURS.length]!;
};

/** About `count` round tick values covering [lo, hi] (1, 2 or 5 times a power of ten apart). */
export const ticks = (lo: number, hi: number, count = 5): number[] => {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
};

/** A number as a tick label: as few digits as the step needs. */
export const tickLabel = (v: number, all: ReadonlyArray<number>): string => {
  const step = all.length > 1 ? Math.abs(all[1]! - all[0]!) : Math.abs(v) || 1;
  const digits = Math.max(0, Math.min(4, -Math.floor(Math.log10(step))));
  return v.toFixed(digits);
};

export interface Frame {
  /** Plot area in pixels. */
  readonly left: number;
  readonly top: number;
  readonly right: number;
  readonly bottom: number;
  /** Data ranges drawn. */
  readonly x: readonly [number, number];
  readonly y: readonly [number, number];
  readonly xTitle: string;
  readonly yTitle: string;
  /** Draw value ticks on the x axis (false: the caller labels it, e.g. with night names). */
  readonly xTicks?: boolean;
}

export const scaleX = (f: Frame, v: number): number => f.left + ((v - f.x[0]) / Math.max(1e-12, f.x[1] - f.x[0])) * (f.right - f.left);
export const scaleY = (f: Frame, v: number): number => f.bottom - ((v - f.y[0]) / Math.max(1e-12, f.y[1] - f.y[0])) * (f.bottom - f.top);

/** Two axes with tick values and a title each, as SVG elements. */
export const frameSvg = (f: Frame): string => {
  const ys = ticks(f.y[0], f.y[1]);
  const xs = f.xTicks === false ? [] : ticks(f.x[0], f.x[1]);
  const mid = (f.top + f.bottom) / 2;
  return [
    `<g class="axes" font-size="11" fill="#444">`,
    `<line x1="${f.left}" y1="${f.bottom}" x2="${f.right}" y2="${f.bottom}" stroke="#444"/>`,
    `<line x1="${f.left}" y1="${f.top}" x2="${f.left}" y2="${f.bottom}" stroke="#444"/>`,
    ...ys.map((v) => `<line x1="${f.left - 4}" y1="${scaleY(f, v).toFixed(1)}" x2="${f.left}" y2="${scaleY(f, v).toFixed(1)}" stroke="#444"/><text x="${f.left - 6}" y="${(scaleY(f, v) + 4).toFixed(1)}" text-anchor="end">${tickLabel(v, ys)}</text>`),
    ...xs.map((v) => `<line x1="${scaleX(f, v).toFixed(1)}" y1="${f.bottom}" x2="${scaleX(f, v).toFixed(1)}" y2="${f.bottom + 4}" stroke="#444"/><text x="${scaleX(f, v).toFixed(1)}" y="${f.bottom + 16}" text-anchor="middle">${tickLabel(v, xs)}</text>`),
    `<text x="${((f.left + f.right) / 2).toFixed(1)}" y="${f.bottom + 32}" font-size="12" fill="#222" text-anchor="middle">${esc(f.xTitle)}</text>`,
    `<text x="14" y="${mid}" font-size="12" fill="#222" text-anchor="middle" transform="rotate(-90 14 ${mid})">${esc(f.yTitle)}</text>`,
    `</g>`,
  ].join("");
};

/** A fraction as a percentage people read: beyond ±10000% (a perplexity that blew up) it says so. */
export const pct = (x: number | undefined): string =>
  x === undefined ? "-" : !Number.isFinite(x) || Math.abs(x) > 100 ? (x > 0 ? "> 10000%" : "< -10000%") : `${(x * 100).toFixed(1)}%`;

/**
 * A measurement with `digits` decimals, in powers of ten when it is huge (2.50e+7); ∞ where it overflowed
 * (a diverged adapter's perplexity is the largest double, 1.80e+308: nobody reads that as a number).
 */
export const num = (x: number | null | undefined, digits = 3): string =>
  x === null || x === undefined ? "-" : !Number.isFinite(x) || Math.abs(x) >= 1e300 ? (x > 0 ? "∞" : "-∞") : Math.abs(x) >= 1e6 ? x.toExponential(2) : x.toFixed(digits);
