/** Pictures of drift for people: unicode sparklines and an SVG of the centroids' 2-D trajectories. */
import { colourOf, COLOURS, esc, frameSvg, scaleX, scaleY, type Frame } from "./axes.ts";

const BARS = "▁▂▃▄▅▆▇█";

/** One character per value, scaled to the largest (a flat series of zeros stays at the floor). */
export const sparkline = (values: ReadonlyArray<number>): string => {
  const max = Math.max(0, ...values);
  return values.map((v) => BARS[max > 0 ? Math.min(BARS.length - 1, Math.round((v / max) * (BARS.length - 1))) : 0]).join("");
};

/** Seconds as a person reads them: 45s, 3m05s, 2h10m. */
export const duration = (seconds: number): string => {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
};

const dotRows = (rows: ReadonlyArray<ReadonlyArray<number>>, v: ReadonlyArray<number>) => rows.map((r) => r.reduce((s, x, i) => s + x * v[i]!, 0));

/**
 * The first two principal axes of centred rows, by power iteration on XᵀX applied as Xᵀ(Xv): memory
 * O(n + d), no d x d matrix. Deterministic start; the second axis is deflated against the first.
 */
export const principalAxes = (rows: ReadonlyArray<ReadonlyArray<number>>): [number[], number[]] => {
  const d = rows[0]?.length ?? 0;
  const axes: number[][] = [];
  for (let k = 0; k < 2; k++) {
    let v = Array.from({ length: d }, (_, i) => ((i * 7 + k * 3) % 11) - 5 + 0.5);
    for (let it = 0; it < 100; it++) {
      const xv = dotRows(rows, v);
      let next = new Array<number>(d).fill(0);
      rows.forEach((r, j) => r.forEach((x, i) => (next[i]! += x * xv[j]!)));
      for (const a of axes) {
        const p = next.reduce((s, x, i) => s + x * a[i]!, 0);
        next = next.map((x, i) => x - p * a[i]!);
      }
      const n = Math.hypot(...next);
      if (n === 0) break;
      v = next.map((x) => x / n);
    }
    axes.push(v);
  }
  return [axes[0]!, axes[1]!];
};

export interface Trajectory {
  readonly id: string;
  readonly points: ReadonlyArray<{ readonly label: string; readonly vector: ReadonlyArray<number> }>;
}

/** A night named by its day is labelled by month and day. */
const shortDay = (label: string) => (/^\d{4}-\d\d-\d\d$/.test(label) ? label.slice(5) : label);

/** At most about `max` labels along a series: every k-th, and always the last. */
const labelled = (i: number, n: number, max = 8) => i === n - 1 || i % Math.ceil(n / max) === 0;

/**
 * An SVG of every trajectory, each drawn from its own birth at the origin (centroids live far apart;
 * what matters is how each moved), in the plane of the two principal axes of all the displacements.
 * Both axes share one scale (a move is as long across as up); each dot is a night, labelled.
 */
export const driftSvg = (trajectories: ReadonlyArray<Trajectory>, title: string, size = 640): string => {
  const moves = trajectories.map((t) => t.points.map((p) => p.vector.map((x, i) => x - t.points[0]!.vector[i]!)));
  const all = moves.flat();
  const d = all[0]?.length ?? 0;
  const mean = new Array<number>(d).fill(0);
  all.forEach((v) => v.forEach((x, i) => (mean[i]! += x / all.length)));
  const [a, b] = principalAxes(all.map((v) => v.map((x, i) => x - mean[i]!)));
  const xy = (v: ReadonlyArray<number>) => [v.reduce((s, x, i) => s + x * a[i]!, 0), v.reduce((s, x, i) => s + x * b[i]!, 0)] as const;
  const projected = all.map(xy);
  const span = (k: 0 | 1) => [Math.min(...projected.map((p) => p[k])), Math.max(...projected.map((p) => p[k]))] as const;
  const [[x0, x1], [y0, y1]] = [span(0), span(1)];
  const side = Math.max(x1 - x0, y1 - y0, 1e-9);
  const f: Frame = { left: 70, top: 50, right: size - 30, bottom: size - 60, x: [x0, x0 + side], y: [y0, y0 + side], xTitle: "first principal axis of the moves", yTitle: "second principal axis" };
  const placed: Array<readonly [number, number]> = [];
  const body = trajectories.map((t, k) => {
    const colour = t.id === "preoccupation" ? COLOURS[0]! : colourOf(t.id);
    const pts = moves[k]!.map((v) => xy(v)).map(([x, y]) => [scaleX(f, x), scaleY(f, y)] as const);
    const dots = pts.map(([x, y], i) => {
      const p = t.points[i]!;
      const dist = Math.hypot(...moves[k]![i]!);
      const dot = `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="${i === pts.length - 1 ? 5 : 3}" fill="${colour}"><title>${esc(`${t.id} · ${p.label} · moved ${dist.toFixed(4)} from birth`)}</title></circle>`;
      // A night's label where it does not cover another one (the hover names every dot).
      const free = placed.every(([px, py]) => Math.abs(px - x) > 44 || Math.abs(py - y) > 12);
      if (!labelled(i, pts.length) || !free) return dot;
      placed.push([x, y]);
      const anchor = x > size - 90 ? "end" : "start";
      return `${dot}<text x="${(anchor === "end" ? x - 6 : x + 6).toFixed(1)}" y="${(y + 14).toFixed(1)}" font-size="9" fill="#555" text-anchor="${anchor}">${esc(shortDay(p.label))}</text>`;
    });
    const [lx, ly] = pts.at(-1) ?? [0, 0];
    // The name stays inside the picture: anchored at its end on the right half, never above the title.
    const anchor = lx > size / 2 ? "end" : "start";
    const label = `<text x="${(anchor === "end" ? Math.min(lx, size - 8) : Math.max(lx, 8)).toFixed(1)}" y="${Math.max(ly - 10, 48).toFixed(1)}" font-size="13" fill="${colour}" text-anchor="${anchor}">${esc(t.id)}</text>`;
    return `<g class="trajectory" data-centroid="${esc(t.id)}"><polyline fill="none" stroke="${colour}" stroke-width="2" points="${pts.map((p) => p.map((n) => n.toFixed(1)).join(",")).join(" ")}"/>${dots.join("")}${label}</g>`;
  });
  const nights = Math.max(0, ...trajectories.map((t) => t.points.length));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 ${size} ${size}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="70" y="30" font-size="16">${esc(title)}</text>`,
    ...(nights < 2
      ? [`<text x="${size / 2}" y="${size / 2}" font-size="14" fill="#444" text-anchor="middle">${nights === 0 ? "no centroid yet" : "one night so far: drift is drawn from the second night on"}</text>`]
      : [frameSvg(f), ...body, `<text x="70" y="${size - 8}" font-size="11" fill="#666">each centroid from its birth (origin); dots are nights, the large one the latest</text>`]),
    `</svg>`,
  ].join("\n");
};
