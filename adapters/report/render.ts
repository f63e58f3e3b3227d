import { driftSvg, duration, principalAxes, sparkline } from "./charts.ts";
import type { ReportData } from "./collect.ts";

const esc = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** A number that links to the event holding it. */
const cite = (seq: number | undefined, text: string) => (seq ? `<a href="#ev-${seq}" title="event ${seq}">${esc(text)}</a>` : esc(text));
const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22"];

const timeline = (d: ReportData): string => {
  const nights = Object.values(d.nights).sort((a, b) => a.startedSeq - b.startedSeq);
  if (nights.length === 0) return "<p>No night yet.</p>";
  const max = Math.max(1, ...nights.map((n) => (n.counts ? n.counts.accepted + n.counts.rejected + n.counts.shadow + n.counts.refused : 0)));
  const w = Math.min(90, Math.max(24, Math.floor(760 / nights.length)));
  const bars = nights.map((n, i) => {
    const c = n.counts ?? { accepted: 0, rejected: 0, shadow: 0, refused: 0 };
    let y = 200;
    const seg = (v: number, colour: string, label: string) => {
      const h = (v / max) * 180;
      y -= h;
      return h > 0 ? `<rect x="${i * w + 4}" y="${y.toFixed(1)}" width="${w - 8}" height="${h.toFixed(1)}" fill="${colour}"><title>${label}: ${v}</title></rect>` : "";
    };
    return [seg(c.accepted, "#2ca02c", "accepted"), seg(c.rejected, "#d62728", "rejected"), seg(c.shadow, "#9467bd", "shadow"), seg(c.refused, "#7f7f7f", "refused"),
      `<text x="${i * w + w / 2}" y="216" font-size="10" text-anchor="middle">${esc(n.day.slice(5))}</text>`].join("");
  });
  const rows = nights.map((n) => `<tr><td>${esc(n.nightId)}</td><td>${cite(n.completedSeq, String(n.counts?.accepted ?? "-"))}</td><td>${cite(n.completedSeq, String(n.counts?.rejected ?? "-"))}</td><td>${cite(n.completedSeq, String(n.counts?.shadow ?? "-"))}</td><td>${cite(n.completedSeq, String(n.counts?.refused ?? "-"))}</td><td>${n.completedSeq ? cite(n.completedSeq, `${((n.durationMs ?? 0) / 1000).toFixed(1)} s${n.cutOff ? `, cut off at its deadline: ${n.cutOff.left} left for the next night` : ""}`) : "open"}</td></tr>`);
  return `<svg id="timeline-chart" width="${nights.length * w}" height="222" role="img" aria-label="nights">${bars.join("")}</svg>
<p class="legend"><span style="color:#2ca02c">■</span> accepted <span style="color:#d62728">■</span> rejected <span style="color:#9467bd">■</span> shadow <span style="color:#7f7f7f">■</span> refused</p>
<table><tr><th>night</th><th>accepted</th><th>rejected</th><th>shadow</th><th>refused</th><th>took</th></tr>${rows.join("")}</table>`;
};

const drift = (d: ReportData): string => {
  const trajectories = Object.values(d.centroids)
    .filter((c) => c.history.length > 0)
    .map((c) => ({ id: c.id, points: c.history.map((h) => ({ label: h.nightId ?? String(h.seq), vector: h.vector })) }));
  if (trajectories.length === 0) return "<p>No centroid has a history yet.</p>";
  return `<div id="drift-chart">${driftSvg(trajectories, "Centroid trajectories (PCA of their movement)")}</div>`;
};

const antechamber = (d: ReportData): string => {
  const pts = d.rejected;
  if (pts.length < 3) return "<p>The Antechamber holds fewer than three questions.</p>";
  const dim = pts[0]!.vector.length;
  const mean = new Array<number>(dim).fill(0);
  pts.forEach((p) => p.vector.forEach((x, i) => (mean[i]! += x / pts.length)));
  const centred = pts.map((p) => p.vector.map((x, i) => x - mean[i]!));
  const [a, b] = principalAxes(centred);
  const xy = (v: ReadonlyArray<number>) => [v.reduce((s, x, i) => s + (x - mean[i]!) * a[i]!, 0), v.reduce((s, x, i) => s + (x - mean[i]!) * b[i]!, 0)] as const;
  const proj = pts.map((p) => xy(p.vector));
  const [x0, x1] = [Math.min(...proj.map((p) => p[0])), Math.max(...proj.map((p) => p[0]))];
  const [y0, y1] = [Math.min(...proj.map((p) => p[1])), Math.max(...proj.map((p) => p[1]))];
  const sx = (x: number) => 20 + ((x - x0) / Math.max(1e-9, x1 - x0)) * 560;
  const sy = (y: number) => 380 - ((y - y0) / Math.max(1e-9, y1 - y0)) * 360;
  const ids = [...new Set(pts.map((p) => p.clusterId).filter((c): c is string => c !== null))];
  const dots = pts.map((p, i) => {
    const k = p.clusterId ? ids.indexOf(p.clusterId) : -1;
    return `<circle cx="${sx(proj[i]![0]).toFixed(1)}" cy="${sy(proj[i]![1]).toFixed(1)}" r="3" fill="${k < 0 ? "#bbb" : COLOURS[k % COLOURS.length]}"><title>${esc(p.inputId.slice(0, 12))} ${p.clusterId ?? "noise"}</title></circle>`;
  });
  const births = d.births.map((s) => {
    const [x, y] = xy(s.data.vector);
    return `<g><text x="${sx(x).toFixed(1)}" y="${sy(y).toFixed(1)}" font-size="22" text-anchor="middle" dominant-baseline="middle" fill="#000">★</text><a href="#ev-${s.seq}"><text x="${(sx(x) + 14).toFixed(1)}" y="${(sy(y) - 10).toFixed(1)}" font-size="11">${esc(s.data.satelliteId)} born (event ${s.seq})</text></a></g>`;
  });
  const legend = ids.map((id, k) => `<span style="color:${COLOURS[k % COLOURS.length]}">●</span> ${esc(id)}`).join(" ");
  return `<svg id="antechamber-chart" width="600" height="400" role="img" aria-label="antechamber">${dots.join("")}${births.join("")}</svg><p class="legend">${legend} <span style="color:#bbb">●</span> noise · ★ a satellite's birth</p>`;
};

const adapters = (d: ReportData): string => {
  if (d.adapters.length === 0) return "<p>No adapter trained yet.</p>";
  const rows = d.adapters.map((a) => {
    const ev = a.evaluated;
    const outcome = a.outcome ? cite(a.outcome.seq, a.outcome.type === "AdapterPromoted" ? "promoted" : "rolled back") : "pending";
    return `<tr><td>${esc(a.jobId)}</td><td>${a.trained ? cite(a.trained.seq, a.trained.data.adapterSha256.slice(0, 12)) : "-"}</td><td>${a.trained ? cite(a.trained.seq, a.trained.data.merge.reconstructionError.toFixed(3)) : "-"}</td><td>${ev ? cite(ev.seq, `${(ev.data.gain * 100).toFixed(1)}%`) : "-"}</td><td>${ev ? cite(ev.seq, `${(ev.data.forgetting * 100).toFixed(1)}%`) : "-"}</td><td>${ev ? cite(ev.seq, `${ev.data.bounds.minGain} / ${ev.data.bounds.maxForgetting}`) : "-"}</td><td>${outcome}</td></tr>`;
  });
  return `<table id="adapters"><tr><th>job</th><th>adapter</th><th>merge error</th><th>gain (held-out)</th><th>forgetting (anchor)</th><th>bounds</th><th>outcome</th></tr>${rows.join("")}</table>`;
};

/** Each job's run as the trainer reported it: the last step of steps, its loss and ETA, and the loss curve per phase. */
const training = (d: ReportData): string => {
  if (d.training.length === 0) return "<p>No training step reported yet.</p>";
  const rows = d.training.map((r) => {
    const last = r.progress.at(-1);
    const phases = [...new Set(r.progress.map((p) => p.data.phase))];
    const curves = phases.map((ph) => `${esc(ph)} <span class="curve">${sparkline(r.progress.filter((p) => p.data.phase === ph && p.data.loss !== null).map((p) => p.data.loss!))}</span>`).join(" ");
    const state = r.failed ? cite(r.failed.seq, `failed (${r.failed.data.kind})`) : last && last.data.step >= last.data.of ? "steps done" : "running";
    const cell = (text: string) => `<td>${last ? cite(last.seq, text) : "-"}</td>`;
    return `<tr><td>${esc(r.jobId)}</td>${cell(last ? `${last.data.phase} ${last.data.step}/${last.data.of}` : "-")}${cell(last?.data.loss?.toFixed(4) ?? "-")}${cell(last?.data.etaSeconds == null ? "unknown" : duration(last.data.etaSeconds))}<td>${curves || "-"}</td><td>${state}</td></tr>`;
  });
  return `<table id="training"><tr><th>job</th><th>step</th><th>loss</th><th>ETA (at that step)</th><th>loss curve</th><th>state</th></tr>${rows.join("")}</table>`;
};

/** The cited events, each with an anchor, so every number leads to its evidence. */
const appendix = (d: ReportData): string =>
  [...d.cited.values()]
    .filter((e) => e.type !== "InputRejected")
    .map((e) => `<details id="ev-${e.seq}"><summary>event ${e.seq}: ${esc(e.type)} · ${esc(e.metadata.time)} · ${esc(e.metadata.actor)}</summary><pre>${esc(JSON.stringify({ ...e.metadata, data: e.data }, (k, v) => (Array.isArray(v) && v.length > 16 && typeof v[0] === "number" ? `[${v.length} numbers]` : v), 2))}</pre></details>`)
    .join("\n");

/** One self-contained HTML file: no script from the network, no external style. */
export const renderReport = (d: ReportData): string => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sophont report (seq ${d.until})</title>
<style>body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:960px;color:#222}h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f4f4f4}td:first-child{text-align:left}.legend{color:#555}details{margin:2px 0}pre{background:#f8f8f8;padding:6px;overflow:auto;font-size:12px}a{color:#0b5cad}</style>
</head><body>
<h1>Sophont report</h1>
<p>The log as of sequence ${d.until}, generated ${esc(d.generatedAt)}. Every number links to the event that holds it.</p>
<h2>Nights</h2>${timeline(d)}
<h2>Drift of the centroids</h2>${drift(d)}
<h2>The Antechamber</h2>${antechamber(d)}
<h2>Training</h2>${training(d)}
<h2>Adapters</h2>${adapters(d)}
<h2>Events cited</h2>${appendix(d)}
</body></html>
`;
