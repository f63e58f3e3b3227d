// Every view of the dashboard as of one point of the log, rendered on the server with the report's own
// sections and charts (adapters/report): the page only swaps them in.
import type { EventStore } from "../../events/store.ts";
import type { Diff } from "../../projections/diff.ts";
import { esc, num, pct } from "../report/axes.ts";
import { collectReport, type ReportData } from "../report/collect.ts";
import { inputTextReader, textItems, withInputText, type TextView } from "../report/rejections.ts";
import { antechamber, drift, rejections, timeline, training } from "../report/render.ts";

export interface Views {
  readonly until: number;
  readonly html: Record<"nights" | "drift" | "antechamber" | "rejections" | "lineage" | "training", string>;
  /** The satellites alive at that point (what the slider test and the legend read). */
  readonly satellites: string[];
}

export interface ViewSource {
  readonly store: EventStore;
  readonly text: () => Promise<TextView>;
  /** The content store, for the examples' own texts. */
  readonly content: { get(sha256: string): Promise<Uint8Array | undefined> };
  /** Inputs' own texts as they are (the dashboard on loopback: local display); otherwise sealed as for agents. */
  readonly rawInputs: boolean;
  /** Inputs' texts by sha256, kept between requests (a text never changes; a forgotten one is never asked for). */
  readonly textCache?: Map<string, string>;
}

const short = (s: string | null | undefined) => (s ? esc(s.slice(0, 12)) : "base");

type Job = ReportData["adapters"][number];
const status = (j: Job, d: ReportData) => (j.outcome ? (j.outcome.type === "AdapterPromoted" ? "promoted" : "rolled back") : j.failed ? `failed (${j.failed.data.kind})` : j.trained ? "trained" : d.training.some((r) => r.jobId === j.jobId && r.progress.length > 0) ? "training" : j.provisioned ? "provisioned" : "requested");

/** Each job: what it learned from, what it produced and every number of its evaluation. */
const lineage = (d: ReportData): string => {
  if (d.adapters.length === 0) return "<p>No training job yet.</p>";
  const rows = d.adapters.map((j) => {
    const r = j.requested?.data, ev = j.evaluated?.data;
    const pair = (c: { before: number; after: number } | undefined) => (c ? `${num(c.before, 2)} → ${num(c.after, 2)}` : "-");
    return `<tr data-job="${esc(j.jobId)}"><td>${esc(j.jobId)}</td><td>${esc(r?.requestedBy ?? "-")}</td><td>${r ? `${r.ledger.sft.length} sft · ${r.ledger.heldOut.length} held out · ${r.ledger.anchor.length} anchor` : "-"}</td><td>${r ? r.mergeWith.map((m) => short(m)).join(", ") || "none" : "-"}</td><td>${j.trained ? short(j.trained.data.adapterSha256) : "-"}</td><td>${short(ev?.baselineSha256)}</td><td>${pair(ev?.heldOut)}</td><td>${pct(ev?.gain)}</td><td>${pair(ev?.anchor)}</td><td>${pct(ev?.forgetting)}</td><td>${ev?.probe ? pct(ev.probe.rise) : "-"}</td><td>${ev ? `${ev.bounds.minGain} / ${ev.bounds.maxForgetting}${ev.bounds.maxProbeRise !== undefined && ev.bounds.maxProbeRise !== null ? ` / ${ev.bounds.maxProbeRise}` : ""}` : "-"}</td><td>${status(j, d)}</td></tr>`;
  });
  return `<table id="lineage"><tr><th>job</th><th>asked by</th><th>learned from</th><th>merged with</th><th>adapter</th><th>against</th><th>held-out perplexity</th><th>gain</th><th>anchor perplexity</th><th>forgetting</th><th>probe rise</th><th>bounds (gain / forgetting / probe rise)</th><th>outcome</th></tr>${rows.join("")}</table>`;
};

/** The jobs running at that point, then every job's last step, loss, ETA and loss curve (the report's table). */
export const trainingNow = (d: ReportData): string => {
  const running = d.adapters.filter((j) => j.requested && !j.outcome && !j.failed && !j.trained);
  const head = running.length === 0 ? "<p>No job running.</p>" : `<p class="running">Running: ${running.map((j) => `<b data-job="${esc(j.jobId)}">${esc(j.jobId)}</b> (${status(j, d)})`).join(", ")}</p>`;
  return head + training(d);
};

/** Every view as of `seq`: the report's sections and the dashboard's own two. */
export const viewsAt = async (src: ViewSource, seq: number): Promise<Views> => {
  const text = await src.text();
  const d = await collectReport(src.store, { seq }, { text, examplesPerCause: 5 });
  // Never a private or forgotten input's text; on loopback the rest as they are, elsewhere as agents read them.
  await withInputText(textItems(d), text, inputTextReader(d.contentOf, src.content, src.textCache), src.rawInputs);
  return {
    until: d.until,
    html: { nights: timeline(d), drift: drift(d), antechamber: antechamber(d), rejections: rejections(d), lineage: lineage(d), training: trainingNow(d) },
    satellites: d.births.map((b) => b.data.satelliteId),
  };
};

const list = (xs: ReadonlyArray<string>) => (xs.length ? xs.map((x) => `<code>${esc(x.slice(0, 40))}</code>`).join(" ") : "none");

/** What changed from one point to another, as a person reads it. */
export const diffHtml = (from: number, to: number, d: Diff): string => `<table id="diff-table">
<tr><th colspan="2">from event ${from} to event ${to}</th></tr>
<tr><td>nights started</td><td>${list(d.nights.started)}</td></tr>
<tr><td>nights completed</td><td>${list(d.nights.completed)}</td></tr>
<tr><td>centroids born</td><td>${list(d.centroids.born)}</td></tr>
<tr><td>centroids gone</td><td>${list(d.centroids.gone)}</td></tr>
<tr><td>centroids moved (cosine distance)</td><td>${d.centroids.moved.map((m) => `<code>${esc(m.id)}</code> ${m.cosineDistance.toFixed(4)}`).join(" ") || "none"}</td></tr>
${(["sft", "shadow", "anchor"] as const).map((k) => `<tr><td>${k} ledger</td><td>+${d.ledgers[k].added.length} −${d.ledgers[k].removed.length}</td></tr>`).join("\n")}
</table>`;
