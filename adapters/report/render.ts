import { esc, pct } from "./axes.ts";
import { decisionLegend, nightBarsSvg } from "./bars.ts";
import { driftSvg, duration, sparkline } from "./charts.ts";
import type { ReportData } from "./collect.ts";
import { scatterLegend, scatterSvg } from "./scatter.ts";

/** A number that links to the event holding it. */
const cite = (seq: number | undefined, text: string) => (seq ? `<a href="#ev-${seq}" title="event ${seq}">${esc(text)}</a>` : esc(text));

/** The nights as bars with axes and values, and as a table whose numbers link to their events. */
export const timeline = (d: ReportData): string => {
  const nights = Object.values(d.nights).sort((a, b) => a.startedSeq - b.startedSeq);
  if (nights.length === 0) return "<p>No night yet.</p>";
  const bars = nightBarsSvg(nights.map((n) => ({ nightId: n.nightId, label: n.day.slice(5), counts: n.counts ?? null })));
  const rows = nights.map((n) => `<tr><td>${esc(n.nightId)}</td><td>${cite(n.completedSeq, String(n.counts?.accepted ?? "-"))}</td><td>${cite(n.completedSeq, String(n.counts?.rejected ?? "-"))}</td><td>${cite(n.completedSeq, String(n.counts?.shadow ?? "-"))}</td><td>${cite(n.completedSeq, String(n.counts?.refused ?? "-"))}</td><td>${n.completedSeq ? cite(n.completedSeq, `${((n.durationMs ?? 0) / 1000).toFixed(1)} s${n.cutOff ? `, cut off at its deadline: ${n.cutOff.left} left for the next night` : ""}`) : "open"}</td></tr>`);
  return `${bars}${decisionLegend()}
<table><tr><th>night</th><th>accepted</th><th>rejected</th><th>shadow</th><th>refused</th><th>took</th></tr>${rows.join("")}</table>`;
};

/** Each centroid's trajectory, night by night (satellites from their birth). */
export const drift = (d: ReportData): string => {
  const trajectories = Object.values(d.centroids)
    .filter((c) => c.history.length > 0)
    .map((c) => ({ id: c.id, points: c.history.map((h) => ({ label: h.nightId ?? `born (event ${h.seq})`, vector: h.vector })) }));
  if (trajectories.length === 0) return "<p>No centroid has a history yet.</p>";
  return `<div id="drift-chart">${driftSvg(trajectories, "Centroid trajectories (PCA of their movement)")}</div>`;
};

/** The rejected questions, coloured by cluster identity, births starred, each question's text on hover. */
export const antechamber = (d: ReportData): string => {
  if (d.rejected.length < 3) return "<p>The Antechamber holds fewer than three questions.</p>";
  const births = d.births.map((s) => ({ satelliteId: s.data.satelliteId, vector: s.data.vector, seq: s.seq }));
  const ids = [...new Set(d.rejected.map((p) => p.clusterId).filter((c): c is string => c !== null))];
  return `${scatterSvg(d.rejected, births, `The Antechamber: ${d.rejected.length} rejected questions, ${ids.length} cluster(s)`)}${scatterLegend(ids)}`;
};

const CAUSES: Record<string, string> = { "off-topic": "off the domain's topic (to the Antechamber)", incoherent: "not coherent language", known: "already known", unmeasurable: "the models could not measure it" };

/** Rejections by cause over the nights, and the latest few examples of each (texts as the airlock allows). */
export const rejections = (d: ReportData): string => {
  const causes = Object.keys(d.rejections.counts).sort((a, b) => d.rejections.counts[b]! - d.rejections.counts[a]!);
  if (causes.length === 0) return "<p>No input rejected yet.</p>";
  const nights = Object.values(d.nights).sort((a, b) => a.startedSeq - b.startedSeq);
  const head = `<tr><th>cause</th>${nights.map((n) => `<th>${esc(n.day.slice(5))}</th>`).join("")}<th>all</th></tr>`;
  const rows = causes.map((c) => `<tr><td>${esc(c)}</td>${nights.map((n) => `<td>${n.rejectedByCause[c] ?? 0}</td>`).join("")}<td>${d.rejections.counts[c]}</td></tr>`);
  const examples = causes.map((c) => {
    const items = (d.rejections.examples[c] ?? []).map((x) => `<li>${x.question ? `<q>${esc(x.question)}</q> ` : ""}<span class="why">${esc(x.reason)}</span> <span class="id">${esc(x.nightId)} · ${esc(x.inputId.slice(0, 12))}</span>${x.text === undefined ? "" : `<blockquote>${esc(x.text)}</blockquote>`}</li>`);
    return `<h3>${esc(c)}: ${esc(CAUSES[c] ?? c)}</h3><ul class="examples" data-cause="${esc(c)}">${items.join("")}</ul>`;
  });
  return `<table id="rejections">${head}${rows.join("")}</table>${examples.join("")}`;
};

export const adapters = (d: ReportData): string => {
  if (d.adapters.length === 0) return "<p>No adapter trained yet.</p>";
  const rows = d.adapters.map((a) => {
    const ev = a.evaluated;
    const outcome = a.outcome ? cite(a.outcome.seq, a.outcome.type === "AdapterPromoted" ? "promoted" : "rolled back") : "pending";
    return `<tr><td>${esc(a.jobId)}</td><td>${a.trained ? cite(a.trained.seq, a.trained.data.adapterSha256.slice(0, 12)) : "-"}</td><td>${a.trained ? cite(a.trained.seq, a.trained.data.merge.reconstructionError.toFixed(3)) : "-"}</td><td>${ev ? cite(ev.seq, pct(ev.data.gain)) : "-"}</td><td>${ev ? cite(ev.seq, pct(ev.data.forgetting)) : "-"}</td><td>${ev ? cite(ev.seq, `${ev.data.bounds.minGain} / ${ev.data.bounds.maxForgetting}`) : "-"}</td><td>${outcome}</td></tr>`;
  });
  return `<table id="adapters"><tr><th>job</th><th>adapter</th><th>merge error</th><th>gain (held-out)</th><th>forgetting (anchor)</th><th>bounds</th><th>outcome</th></tr>${rows.join("")}</table>`;
};

/** Each job's run as the trainer reported it: the last step of steps, its loss and ETA, and the loss curve per phase. */
export const training = (d: ReportData): string => {
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
<style>body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:960px;color:#222}h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f4f4f4}td:first-child{text-align:left}.legend{color:#555}details{margin:2px 0}pre{background:#f8f8f8;padding:6px;overflow:auto;font-size:12px}a{color:#0b5cad}q{font-style:italic}.why{color:#555}.id{color:#999;font-size:12px}blockquote{margin:2px 0 6px 1em;color:#333;font-size:13px}</style>
</head><body>
<h1>Sophont report</h1>
<p>The log as of sequence ${d.until}, generated ${esc(d.generatedAt)}. Every number links to the event that holds it.</p>
<h2>Nights</h2>${timeline(d)}
<h2>Drift of the centroids</h2>${drift(d)}
<h2>The Antechamber</h2>${antechamber(d)}
<h2>Rejections by cause</h2><p>Each example's question, reason and text as the airlock lets agents read them (redacted under its rules); private and forgotten inputs show no text.</p>${rejections(d)}
<h2>Training</h2>${training(d)}
<h2>Adapters</h2>${adapters(d)}
<h2>Events cited</h2>${appendix(d)}
</body></html>
`;
