import { existsSync, mkdirSync, writeFileSync } from "node:fs";
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
    shutdown: () => (fromEnv ? boundedShutdown(sdk, opts.home, env) : sdk.shutdown()),
  };
};

/** How long a command waits at its end for an OTLP exporter to take its spans. */
export const EXPORT_BOUND_MS = 1_500;

/**
 * Flushes to an OTLP endpoint for at most EXPORT_BOUND_MS: an endpoint that does not answer never
 * delays a command by its exporter's own timeouts. Said once per endpoint (a mark in the home's
 * traces folder), not at every command.
 */
const boundedShutdown = async (sdk: NodeSDK, home: string, env: NodeJS.ProcessEnv): Promise<void> => {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), EXPORT_BOUND_MS)));
  const outcome = await Promise.race([sdk.shutdown().then(() => "done" as const, () => "failed" as const), late]);
  clearTimeout(timer);
  if (outcome === "done") return;
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT ?? "the OTEL_* exporter";
  const mark = join(home, "traces", `unreachable-${Buffer.from(endpoint).toString("hex").slice(0, 64)}`);
  if (existsSync(mark)) return;
  try {
    mkdirSync(join(home, "traces"), { recursive: true });
    writeFileSync(mark, `${new Date().toISOString()} ${endpoint}\n`);
  } catch {
    // an unwritable home only means it is said again next time
  }
  process.stderr.write(`sophont: the trace exporter (${endpoint}) did not take this command's spans within ${EXPORT_BOUND_MS / 1000} s; commands do not wait for it (said once for this endpoint)\n`);
};
