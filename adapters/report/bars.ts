import { esc, frameSvg, scaleY, type Frame } from "./axes.ts";

export interface NightBar {
  readonly nightId: string;
  /** The label under the bar (the day, shortened). */
  readonly label: string;
  /** null: the night has not completed yet. */
  readonly counts: { readonly accepted: number; readonly rejected: number; readonly shadow: number; readonly refused: number } | null;
}

export const DECISION_COLOURS = { accepted: "#2ca02c", rejected: "#d62728", shadow: "#9467bd", refused: "#7f7f7f" } as const;
type Kind = keyof typeof DECISION_COLOURS;
const KINDS = Object.keys(DECISION_COLOURS) as Kind[];

/**
 * Each night's decisions as a stacked bar, with a y axis of input counts, the night under each bar and
 * its total above it; a segment's own count is written inside it when it is tall enough, and on hover.
 */
export const nightBarsSvg = (nights: ReadonlyArray<NightBar>, width = 760): string => {
  const height = 260;
  const totals = nights.map((n) => (n.counts ? KINDS.reduce((s, k) => s + n.counts![k], 0) : 0));
  const f: Frame = { left: 56, top: 20, right: width - 10, bottom: height - 50, x: [0, Math.max(1, nights.length)], y: [0, Math.max(1, ...totals)], xTitle: "night", yTitle: "inputs decided", xTicks: false };
  const slot = (f.right - f.left) / Math.max(1, nights.length);
  const bw = Math.max(6, Math.min(60, slot - 8));
  const bars = nights.map((n, i) => {
    const x = f.left + i * slot + (slot - bw) / 2;
    let y = f.bottom;
    const segs = KINDS.map((k) => {
      const v = n.counts?.[k] ?? 0;
      const h = f.bottom - scaleY(f, v);
      y -= h;
      if (h <= 0) return "";
      const inside = h >= 14 && bw >= 18 ? `<text x="${(x + bw / 2).toFixed(1)}" y="${(y + h / 2 + 4).toFixed(1)}" font-size="10" fill="white" text-anchor="middle">${v}</text>` : "";
      return `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${bw.toFixed(1)}" height="${h.toFixed(1)}" fill="${DECISION_COLOURS[k]}"><title>${esc(`${n.nightId}: ${v} ${k}`)}</title></rect>${inside}`;
    });
    const top = n.counts ? String(totals[i]) : "open";
    return `<g class="night" data-night="${esc(n.nightId)}">${segs.join("")}<text x="${(x + bw / 2).toFixed(1)}" y="${(scaleY(f, totals[i]!) - 4).toFixed(1)}" font-size="11" text-anchor="middle" fill="#222">${top}</text><text x="${(x + bw / 2).toFixed(1)}" y="${f.bottom + 14}" font-size="10" text-anchor="middle" fill="#444">${esc(n.label)}</text></g>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" id="timeline-chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" role="img" aria-label="decisions per night">${frameSvg(f)}${bars.join("")}</svg>`;
};

export const decisionLegend = (): string =>
  `<p class="legend">${KINDS.map((k) => `<span style="color:${DECISION_COLOURS[k]}">■</span> ${k}`).join(" ")}</p>`;
