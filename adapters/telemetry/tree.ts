import { existsSync, readFileSync } from "node:fs";
import type { SpanRecord } from "./file-exporter.ts";

/** Reads the local trace file (JSON Lines); a torn last line is skipped. */
export const readSpans = (path: string): SpanRecord[] => {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8").split("\n").flatMap((l) => {
    try {
      return l ? [JSON.parse(l) as SpanRecord] : [];
    } catch {
      return [];
    }
  });
};

/** The traces a key names: a trace id, or a night, correlation or event id found in span attributes. */
export const tracesFor = (spans: ReadonlyArray<SpanRecord>, key: string): string[] => {
  const ids = new Set<string>();
  for (const s of spans) {
    if (s.traceId === key || Object.values(s.attributes).some((v) => v === key)) ids.add(s.traceId);
  }
  return [...ids];
};

const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);

/** A trace as an indented tree with durations, children in start order. */
export const renderTrace = (spans: ReadonlyArray<SpanRecord>, traceId: string): string => {
  const mine = spans.filter((s) => s.traceId === traceId).sort((a, b) => a.startMs - b.startMs);
  const ids = new Set(mine.map((s) => s.spanId));
  const children = new Map<string | null, SpanRecord[]>();
  for (const s of mine) {
    const parent = s.parentSpanId && ids.has(s.parentSpanId) ? s.parentSpanId : null;
    children.set(parent, [...(children.get(parent) ?? []), s]);
  }
  const t0 = mine[0]?.startMs ?? 0;
  const lines: string[] = [`trace ${traceId}: ${mine.length} span(s)`];
  const walk = (parent: string | null, depth: number) => {
    for (const s of children.get(parent) ?? []) {
      const actor = s.attributes["sophont.actor"] ? ` [${s.attributes["sophont.actor"]}]` : "";
      const mark = s.status === "error" ? " ✗" : "";
      lines.push(`${"  ".repeat(depth)}${depth > 0 ? "└ " : ""}${s.name}${actor}  ${fmt(s.durationMs)} (+${fmt(s.startMs - t0)})${mark}`);
      walk(s.spanId, depth + 1);
    }
  };
  walk(null, 0);
  return lines.join("\n");
};
