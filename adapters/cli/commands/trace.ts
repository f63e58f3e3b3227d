import { defineCommand } from "../command.ts";
import { UsageError } from "../format.ts";
import { readSpans, renderTrace, tracesFor } from "../../telemetry/tree.ts";

export const traceCommand = defineCommand({
  path: ["trace"],
  summary: "print the span tree of a night, a correlation id or a trace id, with durations",
  usage: "sophont trace NIGHT|CORRELATION_ID|TRACE_ID [--json]",
  details: [
    "Reads the local trace file ($SOPHONT_HOME/traces/spans.jsonl), where spans go when no OTEL_*",
    "exporter is set. With OTEL_EXPORTER_OTLP_ENDPOINT set, look at your Jaeger or Tempo instead.",
  ].join("\n"),
  options: { json: { type: "boolean" } },
  run: async (ctx, v, args): Promise<number> => {
    if (args.length !== 1) throw new UsageError("name one night (YYYY-MM-DD), correlation id or trace id");
    const { traceFile } = await import("../../telemetry/setup.ts");
    const spans = readSpans(traceFile(ctx.config.home));
    const ids = tracesFor(spans, args[0]!);
    if (ids.length === 0) {
      ctx.err(`no trace mentions ${args[0]} in ${traceFile(ctx.config.home)} (${spans.length} span(s) there)`);
      return 1;
    }
    ctx.out(v.json ? JSON.stringify(spans.filter((s) => ids.includes(s.traceId)), null, 2) : ids.map((id) => renderTrace(spans, id)).join("\n\n"));
    return 0;
  },
});
