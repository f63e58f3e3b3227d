/** Pictures of drift for people: unicode sparklines and an SVG of the centroids' 2-D trajectories. */

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

const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];
const esc = (s: string) => s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * An SVG of every trajectory, each drawn from its own birth at the origin (centroids live far apart;
 * what matters is how each moved), in the plane of the two principal axes of all the displacements.
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
  const pad = 60;
  const scale = (size - 2 * pad) / Math.max(x1 - x0, y1 - y0, 1e-9);
  const px = (p: readonly [number, number]) => [pad + (p[0] - x0) * scale, size - pad - (p[1] - y0) * scale].map((n) => n.toFixed(1));
  const body = trajectories.map((t, k) => {
    const colour = COLOURS[k % COLOURS.length]!;
    const pts = moves[k]!.map((v) => px(xy(v)));
    const circles = pts.map(([x, y], i) => `<circle cx="${x}" cy="${y}" r="${i === pts.length - 1 ? 5 : 3}" fill="${colour}"><title>${esc(`${t.id} ${t.points[i]!.label}`)}</title></circle>`);
    const [lx, ly] = (pts.at(-1) ?? ["0", "0"]).map(Number) as [number, number];
    // Both axes share one scale (a move is as long across as up), so each end value sits where it is. The label stays inside the picture: anchored at its end on the right half, never above the title.
    const anchor = lx > size / 2 ? "end" : "start";
    const label = `<text x="${(anchor === "end" ? Math.min(lx, size - 8) : Math.max(lx, 8)).toFixed(1)}" y="${Math.max(ly - 10, 48).toFixed(1)}" font-size="13" fill="${colour}" text-anchor="${anchor}">${esc(t.id)}</text>`;
    return [`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${pts.map((p) => p.join(",")).join(" ")}"/>`, ...circles, label].join("\n");
  });
  const nights = Math.max(0, ...trajectories.map((t) => t.points.length));
  const axes = [
    `<line x1="${pad}" y1="${size - pad}" x2="${size - pad}" y2="${size - pad}" stroke="#444"/>`,
    `<line x1="${pad}" y1="${pad}" x2="${pad}" y2="${size - pad}" stroke="#444"/>`,
    `<text x="${pad}" y="${size - pad + 16}" font-size="11" fill="#444">${x0.toFixed(3)}</text>`,
    `<text x="${(pad + (x1 - x0) * scale).toFixed(1)}" y="${size - pad + 16}" font-size="11" fill="#444" text-anchor="end">${x1.toFixed(3)}</text>`,
    `<text x="${size / 2}" y="${size - pad + 30}" font-size="12" fill="#222" text-anchor="middle">first principal axis of the moves</text>`,
    `<text x="${pad - 6}" y="${size - pad}" font-size="11" fill="#444" text-anchor="end">${y0.toFixed(3)}</text>`,
    `<text x="${pad - 6}" y="${(size - pad - (y1 - y0) * scale + 4).toFixed(1)}" font-size="11" fill="#444" text-anchor="end">${y1.toFixed(3)}</text>`,
    `<text x="16" y="${size / 2}" font-size="12" fill="#222" text-anchor="middle" transform="rotate(-90 16 ${size / 2})">second principal axis</text>`,
  ];
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 ${size} ${size}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${pad}" y="30" font-size="16">${esc(title)}</text>`,
    ...(nights < 2
      ? [`<text x="${size / 2}" y="${size / 2}" font-size="14" fill="#444" text-anchor="middle">${nights === 0 ? "no centroid yet" : "one night so far: drift is drawn from the second night on"}</text>`]
      : [...axes, ...body, `<text x="${pad}" y="${size - 8}" font-size="11" fill="#666">each centroid from its birth (origin); dots are nights, the large one the latest</text>`]),
    `</svg>`,
  ].join("\n");
};
