import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span } from "@opentelemetry/api";
import type { TraceContext } from "./envelope.ts";

/**
 * Tracing for actors through the OpenTelemetry API only: without an SDK (set up by adapters/telemetry)
 * every call is a no-op. Trace context travels in each event's metadata and in NATS headers, so one
 * night is one trace across actors and processes.
 */
export const tracer = () => trace.getTracer("sophont");

/** The context an event's metadata carries (W3C traceparent), or the root when it carries none. */
export const contextOf = (tc: TraceContext | undefined): Context => {
  if (!tc) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, tc.tracestate ? { traceparent: tc.traceparent, tracestate: tc.tracestate } : { traceparent: tc.traceparent });
};

/** The W3C trace context of a span, to put in the metadata of the events it decides. */
export const traceOf = (span: Span | undefined): TraceContext | undefined => {
  if (!span || !span.spanContext().traceId || !trace.isSpanContextValid(span.spanContext())) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
  if (!carrier.traceparent) return undefined;
  return carrier.tracestate ? { traceparent: carrier.traceparent, tracestate: carrier.tracestate } : { traceparent: carrier.traceparent };
};

/** The trace context of the active span, if any. */
export const activeTrace = (): TraceContext | undefined => traceOf(trace.getSpan(context.active()));

/**
 * Runs `f` in a span that is a child of `parent` (an event's trace, or the active context), ending it
 * with the outcome. The span is also the active one inside `f`.
 */
export const inSpan = async <T>(name: string, parent: TraceContext | undefined, attributes: Attributes, f: (span: Span) => Promise<T>): Promise<T> => {
  const ctx = parent ? contextOf(parent) : context.active();
  const span = tracer().startSpan(name, { kind: SpanKind.INTERNAL, attributes }, ctx);
  try {
    const out = await context.with(trace.setSpan(ctx, span), () => f(span));
    span.setStatus({ code: SpanStatusCode.OK });
    return out;
  } catch (e) {
    span.recordException(e as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error).message });
    throw e;
  } finally {
    span.end();
  }
};
