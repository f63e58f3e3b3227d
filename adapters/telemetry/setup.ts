import { join } from "node:path";
import { NodeSDK } from "@opentelemetry/sdk-node";
import { BatchSpanProcessor, SimpleSpanProcessor, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import { FileSpanExporter } from "./file-exporter.ts";

export interface Telemetry {
  /** Where spans go, in words. */
  readonly destination: string;
  shutdown(): Promise<void>;
}

const configuredByEnv = (env: NodeJS.ProcessEnv) =>
  Boolean(env.OTEL_TRACES_EXPORTER || env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);

/** The local trace file of a Sophont home. */
export const traceFile = (home: string): string => join(home, "traces", "spans.jsonl");

/**
 * Starts OpenTelemetry for this process. The standard OTEL_* variables choose the exporter (OTLP to
 * Jaeger, Tempo, ...); with none set, spans go to the home's local trace file. OTEL_SDK_DISABLED=true
 * turns tracing off. Tests pass their own exporter (an in-memory one).
 */
export const startTelemetry = (opts: { home: string; serviceName?: string; exporter?: SpanExporter; env?: NodeJS.ProcessEnv }): Telemetry => {
  const env = opts.env ?? process.env;
  if (env.OTEL_SDK_DISABLED === "true") return { destination: "nowhere (OTEL_SDK_DISABLED)", shutdown: async () => undefined };
  const fromEnv = !opts.exporter && configuredByEnv(env);
  const exporter = opts.exporter ?? (fromEnv ? undefined : new FileSpanExporter(traceFile(opts.home)));
  const processor = exporter ? (opts.exporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter)) : undefined;
  const sdk = new NodeSDK({
    serviceName: opts.serviceName ?? env.OTEL_SERVICE_NAME ?? "sophont",
    ...(processor ? { spanProcessors: [processor] } : {}),
    instrumentations: [],
  });
  sdk.start();
  return {
    destination: opts.exporter ? "a test exporter" : fromEnv ? "the OTEL_* exporter" : traceFile(opts.home),
    shutdown: () => sdk.shutdown(),
  };
};
