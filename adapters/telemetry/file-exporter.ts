import { appendFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { ExportResult } from "@opentelemetry/core";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";

/** One finished span as the local trace file keeps it (JSON Lines). */
export interface SpanRecord {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | null;
  readonly name: string;
  readonly service: string;
  readonly startMs: number;
  readonly durationMs: number;
  readonly status: "ok" | "error" | "unset";
  readonly attributes: Record<string, unknown>;
}

const ms = (t: [number, number]) => t[0] * 1e3 + t[1] / 1e6;

export const toRecord = (s: ReadableSpan): SpanRecord => ({
  traceId: s.spanContext().traceId,
  spanId: s.spanContext().spanId,
  parentSpanId: s.parentSpanContext?.spanId ?? null,
  name: s.name,
  service: String(s.resource.attributes["service.name"] ?? "sophont"),
  startMs: ms(s.startTime),
  durationMs: ms(s.duration),
  status: s.status.code === 2 ? "error" : s.status.code === 1 ? "ok" : "unset",
  attributes: { ...s.attributes },
});

/** Where spans go when no OTEL_* exporter is configured: a local file that `sophont trace` reads. */
export class FileSpanExporter implements SpanExporter {
  constructor(private readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }

  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    try {
      mkdirSync(dirname(this.path), { recursive: true }); // the home may have been cleaned since (the demo starts clean)
      appendFileSync(this.path, spans.map((s) => JSON.stringify(toRecord(s))).join("\n") + "\n");
      done({ code: 0 });
    } catch (e) {
      done({ code: 1, error: e as Error });
    }
  }

  async shutdown(): Promise<void> {}
  async forceFlush(): Promise<void> {}
}
