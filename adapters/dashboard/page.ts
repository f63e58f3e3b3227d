// The page: sections the server fills (the report's own charts), a slider over the log's sequences, a
// diff between two points and the live timeline fed by server-sent events. Plain JavaScript, no build.

const SECTIONS: ReadonlyArray<[string, string]> = [
  ["nights", "Nights"],
  ["drift", "Drift of the centroids"],
  ["antechamber", "The Antechamber"],
  ["rejections", "Rejections by cause"],
  ["lineage", "Adapter lineage"],
  ["training", "Training now"],
];

export const pageHtml = (lastSeq: number): string => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sophont dashboard</title>
<link rel="icon" href="data:,"><link rel="stylesheet" href="app.css"><script src="app.js" defer></script></head>
<body data-last-seq="${lastSeq}">
<header><h1>Sophont</h1>
<div id="slider-box"><label for="slider">as of event <output id="at">${lastSeq}</output> of <span id="last">${lastSeq}</span></label>
<input id="slider" type="range" min="0" max="${lastSeq}" value="${lastSeq}" step="1"><span id="live-badge">live</span></div></header>
<main>
<section id="timeline"><h2>Live timeline</h2><p class="hint">Every event as it is appended, newest first; texts as agents read them.</p><ol id="live"></ol></section>
${SECTIONS.map(([id, title]) => `<section id="section-${id}"><h2>${title}</h2><div id="view-${id}" class="view">loading…</div></section>`).join("\n")}
<section id="section-diff"><h2>Diff from → to</h2>
<form id="diff-form"><label>from event <input id="diff-from" type="number" min="0" value="0"></label> <label>to event <input id="diff-to" type="number" min="0" value="${lastSeq}"></label> <button type="submit">compare</button> <button type="button" id="diff-here">from the slider to now</button></form>
<div id="view-diff" class="view"></div></section>
</main></body></html>
`;

export const APP_CSS = `body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{position:sticky;top:0;background:#fff;border-bottom:1px solid #ddd;padding:8px 16px;display:flex;gap:24px;align-items:center;z-index:1}
h1{font-size:1.3em;margin:0}h2{font-size:1.1em;margin:0 0 8px;border-bottom:1px solid #eee}h3{font-size:1em;margin:10px 0 2px}
#slider-box{display:flex;gap:10px;align-items:center;flex:1}#slider{flex:1}
#live-badge{font-size:12px;padding:1px 6px;border-radius:8px;background:#2ca02c;color:#fff}#live-badge.off{background:#999}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(680px,1fr));gap:16px;padding:16px}
section{background:#fff;border:1px solid #e4e4e4;border-radius:6px;padding:12px;overflow:auto}
#timeline ol{list-style:none;margin:0;padding:0;max-height:420px;overflow:auto;font:12px/1.5 ui-monospace,monospace}
#timeline li{border-left:4px solid #ccc;padding:1px 6px;margin:1px 0;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
#timeline li.night{border-color:#1f77b4;background:#eef5fb}#timeline li.decision{border-color:#d62728}#timeline li.antechamber{border-color:#9467bd}#timeline li.training{border-color:#ff7f0e}
#timeline li.fresh{animation:fresh 2s}@keyframes fresh{from{background:#fff3b0}}
#timeline li.after{opacity:.35}#timeline .seq{color:#888}#timeline .type{font-weight:600}.hint{color:#777;margin:0 0 6px;font-size:12px}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f4f4f4}td:first-child{text-align:left}
.legend{color:#555}q{font-style:italic}.why{color:#555}.id{color:#999;font-size:12px}blockquote{margin:2px 0 6px 1em;color:#333;font-size:13px}
a{color:#0b5cad}progress{vertical-align:middle}.job{margin:4px 0}
`;

/** Runs in the browser: no framework, no network beyond this server. */
export const APP_JS = `"use strict";
(() => {
  const token = new URLSearchParams(location.search).get("token");
  const withToken = (p) => token ? p + (p.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token) : p;
  const $ = (id) => document.getElementById(id);
  const slider = $("slider");
  let live = true, pending = 0, shown = -1;
  const later = (fn, ms) => { clearTimeout(pending); pending = setTimeout(fn, ms); };
  const setLive = (v) => { live = v; $("live-badge").className = v ? "" : "off"; $("live-badge").textContent = v ? "live" : "paused at " + slider.value; };
  async function load(at) {
    const r = await fetch(withToken("api/views?at=" + at));
    if (!r.ok) throw new Error("views: " + r.status);
    const v = await r.json();
    if (Number(slider.value) !== v.until && !live) return; // the slider moved on meanwhile
    for (const [k, html] of Object.entries(v.html)) $("view-" + k).innerHTML = html;
    document.body.dataset.until = String(v.until);
    document.body.dataset.satellites = v.satellites.join(" ");
    $("at").textContent = String(v.until);
    shown = v.until;
    // The timeline stays live; what came after the point drawn is greyed.
    for (const li of list.children) li.classList.toggle("after", Number(li.dataset.seq) > v.until);
  }
  const list = $("live");
  const show = (at) => load(at).catch((e) => console.warn(e.message));
  slider.addEventListener("input", () => { $("at").textContent = slider.value; setLive(Number(slider.value) === Number(slider.max)); later(() => show(Number(slider.value)), 120); });
  $("diff-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const r = await fetch(withToken("api/diff?from=" + $("diff-from").value + "&to=" + $("diff-to").value));
    $("view-diff").innerHTML = r.ok ? (await r.json()).html : "diff failed: " + r.status;
  });
  $("diff-here").addEventListener("click", () => { $("diff-from").value = slider.value; $("diff-to").value = slider.max; $("diff-form").requestSubmit(); });
  const source = new EventSource(withToken("api/events"));
  source.onmessage = (m) => {
    const e = JSON.parse(m.data);
    const li = document.createElement("li");
    li.className = e.kind + (list.childElementCount > 0 ? " fresh" : "") + (!live && e.seq > shown ? " after" : "");
    li.dataset.seq = String(e.seq);
    li.dataset.type = e.type;
    li.dataset.time = e.time;
    li.dataset.arrived = String(Date.now());
    for (const [cls, text] of [["seq", String(e.seq).padStart(6) + " "], ["time", e.time.slice(11, 19) + " "], ["type", e.type], ["gist", "  " + e.gist]]) {
      const s = document.createElement("span"); s.className = cls; s.textContent = text; li.append(s);
    }
    li.title = e.actor + " · " + e.time;
    list.prepend(li);
    while (list.childElementCount > 300) list.lastElementChild.remove();
    if (e.seq > Number(slider.max)) {
      slider.max = String(e.seq); $("last").textContent = String(e.seq); $("diff-to").max = String(e.seq);
      if (live) { slider.value = String(e.seq); later(() => show(e.seq), 400); }
    }
  };
  show(Number(slider.value));
})();
`;
