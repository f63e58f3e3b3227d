import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { context, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from "@opentelemetry/core";
import { detectResources, envDetector, hostDetector, osDetector, processDetector, resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor, type SpanExporter, type SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { FileSpanExporter } from "./file-exporter.ts";
import { AirlockSpanExporter, type SpanSerializer } from "../egress/otlp.ts";
import { OtlpEgressLog, setActiveOtlpLog } from "../egress/otlp-log.ts";
import { safeTarget } from "../egress/egress.ts";
import { defaultAirlock, type AirlockPolicy } from "../egress/policy.ts";

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
 * Jaeger, Tempo, ...: http/protobuf, http/json or grpc, as OTEL_EXPORTER_OTLP_PROTOCOL says), and
 * every span bound there passes the airlock (adapters/egress/otlp.ts) and is recorded as egress;
 * with none set, spans go to the home's local trace file. OTEL_SDK_DISABLED=true turns tracing off.
 * Tests pass their own exporter (an in-memory one).
 */
export const startTelemetry = async (opts: { home: string; serviceName?: string; exporter?: SpanExporter; env?: NodeJS.ProcessEnv; airlock?: AirlockPolicy }): Promise<Telemetry> => {
  const env = opts.env ?? process.env;
  if (env.OTEL_SDK_DISABLED === "true") return { destination: "nowhere (OTEL_SDK_DISABLED)", shutdown: async () => undefined };
  const fromEnv = !opts.exporter && configuredByEnv(env);
  let processor: SpanProcessor | undefined;
  let egressLog: OtlpEgressLog | undefined;
  if (opts.exporter) processor = new SimpleSpanProcessor(opts.exporter);
  else if (!fromEnv) processor = new BatchSpanProcessor(new FileSpanExporter(traceFile(opts.home)));
  else {
    const out = await airlockedProcessor(opts.home, opts.airlock ?? defaultAirlock, env);
    processor = out?.processor;
    egressLog = out?.log;
  }
  const sdk = startTracing(opts.serviceName ?? env.OTEL_SERVICE_NAME ?? "sophont", processor);
  setActiveOtlpLog(egressLog);
  return {
    destination: opts.exporter ? "a test exporter" : fromEnv ? "the OTEL_* exporter (through the airlock)" : traceFile(opts.home),
    shutdown: async () => {
      if (!fromEnv) return sdk.shutdown();
      await boundedShutdown(sdk, opts.home, env);
      setActiveOtlpLog(undefined);
      await egressLog?.finish();
    },
  };
};

/**
 * Traces only, as OpenTelemetry's NodeSDK sets them up (a tracer provider with the resource its
 * detectors find, async-hooks context, W3C trace context and baggage), without the NodeSDK itself: it
 * loads metrics, logs and every exporter, 0.3 s of every command's start, for spans alone.
 */
const startTracing = (serviceName: string, processor: SpanProcessor | undefined): { shutdown(): Promise<void> } => {
  const detected = detectResources({ detectors: [envDetector, hostDetector, osDetector, processDetector] });
  const provider = new BasicTracerProvider({ resource: detected.merge(resourceFromAttributes({ "service.name": serviceName })), spanProcessors: processor ? [processor] : [] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
  trace.setGlobalTracerProvider(provider);
  return {
    shutdown: async () => {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
};

/**
 * The span processor for OTEL_TRACES_EXPORTER (otlp, the default, or console): OTLP goes through the
 * airlock and its egress log; another exporter would leave unsealed, so it is refused, said once.
 */
const airlockedProcessor = async (home: string, airlock: AirlockPolicy, env: NodeJS.ProcessEnv): Promise<{ processor: SpanProcessor; log?: OtlpEgressLog } | undefined> => {
  const names = (env.OTEL_TRACES_EXPORTER ?? "otlp").split(",").map((s) => s.trim()).filter((s) => s && s !== "null");
  if (names[0] === "none") return undefined;
  if (names.includes("console") && !names.includes("otlp")) return { processor: new SimpleSpanProcessor(new ConsoleSpanExporter()) };
  const other = names.filter((n) => n !== "otlp" && n !== "console");
  if (other.length) process.stderr.write(`sophont: OTEL_TRACES_EXPORTER ${other.join(", ")} is not supported (spans leave through the airlock's OTLP exporter only); using otlp\n`);
  const { exporter, serialize, target } = await otlpExporter(env);
  const batch: { processor?: SpanProcessor } = {};
  const log = new OtlpEgressLog({ home, policy: airlock, target, flushSpans: () => batch.processor?.forceFlush() ?? Promise.resolve() });
  batch.processor = new BatchSpanProcessor(new AirlockSpanExporter(exporter, airlock, serialize, (b) => log.sent(b)));
  return { processor: batch.processor, log };
};

/** The OTLP exporter OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL names, and the serialiser whose bytes it sends. */
const otlpExporter = async (env: NodeJS.ProcessEnv): Promise<{ exporter: SpanExporter; serialize: SpanSerializer; target: string }> => {
  const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? "http/protobuf";
  const { JsonTraceSerializer, ProtobufTraceSerializer } = await import("@opentelemetry/otlp-transformer");
  const base = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? (env.OTEL_EXPORTER_OTLP_ENDPOINT ? `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/$/, "")}${protocol === "grpc" ? "" : "/v1/traces"}` : protocol === "grpc" ? "http://localhost:4317" : "http://localhost:4318/v1/traces");
  const bytes = (s: typeof ProtobufTraceSerializer): SpanSerializer => (spans) => s.serializeRequest(spans) ?? new Uint8Array();
  if (protocol === "http/json") return { exporter: new (await import("@opentelemetry/exporter-trace-otlp-http")).OTLPTraceExporter(), serialize: bytes(JsonTraceSerializer), target: safeTarget(base) };
  if (protocol === "grpc") return { exporter: new (await import("@opentelemetry/exporter-trace-otlp-grpc")).OTLPTraceExporter(), serialize: bytes(ProtobufTraceSerializer), target: safeTarget(base) };
  return { exporter: new (await import("@opentelemetry/exporter-trace-otlp-proto")).OTLPTraceExporter(), serialize: bytes(ProtobufTraceSerializer), target: safeTarget(base) };
};

/** How long a command waits at its end for an OTLP exporter to take its spans. */
export const EXPORT_BOUND_MS = 1_500;

/**
 * Flushes to an OTLP endpoint for at most EXPORT_BOUND_MS: an endpoint that does not answer never
 * delays a command by its exporter's own timeouts. Said once per endpoint (a mark in the home's
 * traces folder), not at every command.
 */
const boundedShutdown = async (sdk: { shutdown(): Promise<void> }, home: string, env: NodeJS.ProcessEnv): Promise<void> => {
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
