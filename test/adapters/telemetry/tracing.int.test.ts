import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { startTelemetry, type Telemetry } from "../../../adapters/telemetry/setup.ts";
import { renderTrace } from "../../../adapters/telemetry/tree.ts";
import { toRecord } from "../../../adapters/telemetry/file-exporter.ts";
import { ActorHost } from "../../../actors/host.ts";
import { soulDecider } from "../../../actors/soul/soul.decider.ts";
import { SalienceWorker } from "../../../actors/salience/worker.ts";
import { JetStreamEventStore } from "../../../adapters/nats/event-store.ts";
import { ObjectContentStore } from "../../../adapters/nats/content-store.ts";
import { ingestFiles } from "../../../adapters/ingest/ingest.ts";
import { parseQuestions, seedPreoccupation } from "../../../adapters/ingest/preoccupation.ts";
import { inSpan } from "../../../events/tracing.ts";
import { EVENT_STREAM } from "../../../events/subjects.ts";
import { jetstreamManager } from "@nats-io/jetstream";
import { startTestNats, type TestNats } from "../../support/nats.ts";
import { collect } from "../../support/events.ts";
import { openTinySalience } from "../../support/models.ts";
import { corpusLines } from "../llm/support.ts";

let nats: TestNats;
let telemetry: Telemetry;
const exporter = new InMemorySpanExporter();

beforeAll(async () => {
  telemetry = await startTelemetry({ home: "/nonexistent", exporter });
  nats = await startTestNats();
});
afterAll(async () => {
  await telemetry?.shutdown();
  await nats?.stop();
});

const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

describe("traces", () => {
  it("make one night one trace across the CLI, the Soul and Salience, through JetStream", async () => {
    const store = new JetStreamEventStore(await nats.connect());
    const content = new ObjectContentStore(await nats.connect());
    const models = await openTinySalience();
    await seedPreoccupation(store, models.model, parseQuestions("How do planets move around a star?").questions, "seed");
    const text = corpusLines("heldout", "astronomy").slice(0, 6).join("\n");
    await ingestFiles({ store, content, }, [{ path: "a.log", bytes: Buffer.from(text) }], { day: "2026-11-20", maxBytes: 10_000, correlationId: "c" });
    const soul = new ActorHost(store, soulDecider);
    const salience = new SalienceWorker(store, content, models.model, { batchSize: 3 });
    await soul.start();
    await salience.start();
    exporter.reset();
    await inSpan("cli night", undefined, { "sophont.actor": "cli" }, () =>
      soul.command({ id: "night-cmd", actor: "cli", command: { type: "StartNight", day: "2026-11-20", trigger: "cli" } }),
    );
    while (soul.current().nights["2026-11-20"]?.completed !== true) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 200));
    await salience.stop();
    await soul.stop();
    await models.close();

    const spans = exporter.getFinishedSpans();
    const root = spans.find((s) => s.name === "cli night")!;
    const traceId = root.spanContext().traceId;
    const inTrace = spans.filter((s) => s.spanContext().traceId === traceId);
    const actors = new Set(inTrace.map((s) => s.attributes["sophont.actor"]).filter(Boolean));
    expect([...actors].sort()).toEqual(["cli", "salience", "soul"]);
    // Parent links: cli -> soul command -> salience night -> score/append -> soul reactions -> completion.
    const command = inTrace.find((s) => s.name === "soul.command StartNight")!;
    const night = inTrace.find((s) => s.name === "salience.night")!;
    expect(parentOf(command)).toBe(root.spanContext().spanId);
    expect(parentOf(night)).toBe(command.spanContext().spanId);
    const appends = inTrace.filter((s) => s.name === "salience.append");
    expect(appends.length).toBe(2);
    expect(appends.every((a) => parentOf(a) === night.spanContext().spanId)).toBe(true);
    const reactions = inTrace.filter((s) => /^soul.react Input(Accepted|Rejected)/.test(s.name));
    expect(reactions.length).toBeGreaterThanOrEqual(6);
    expect(reactions.every((r) => appends.some((a) => a.spanContext().spanId === parentOf(r)))).toBe(true);
    // One model pass a batch, and on a night with no references yet one over the night's sample of itself.
    const scores = new Set(inTrace.filter((s) => s.name === "salience.score").map((s) => s.spanContext().spanId));
    const model = inTrace.filter((s) => s.name === "Model.perplexity" && scores.has(parentOf(s)!));
    expect(model.length).toBe(2);
    const calibrate = inTrace.find((s) => s.name === "salience.calibrate")!;
    expect(parentOf(calibrate)).toBe(night.spanContext().spanId);
    expect(calibrate.attributes["sophont.references.source"]).toBe("night");
    expect(inTrace.some((s) => s.name === "Model.perplexity" && parentOf(s) === calibrate.spanContext().spanId)).toBe(true);
    expect(model[0]!.attributes).toMatchObject({ "gen_ai.operation.name": "text_completion", "gen_ai.system": "llama.cpp" });
    expect(model[0]!.attributes["gen_ai.usage.input_tokens"]).toBeGreaterThan(0);
    // The trace context survives the JetStream round trip: the event carries the span that decided it.
    const started = (await collect(store.read({ types: new Set(["NightStarted"]) }))).find((e) => e.metadata.causationId === "night-cmd")!;
    expect(started.metadata.trace?.traceparent).toBe(`00-${traceId}-${command.spanContext().spanId}-01`);
    const raw = await (await jetstreamManager(await nats.connect())).streams.getMessage(EVENT_STREAM, { seq: started.seq });
    expect(raw!.header.get("traceparent")).toBe(started.metadata.trace!.traceparent);
    // And the tree prints.
    const tree = renderTrace(inTrace.map(toRecord), traceId);
    expect(tree.split("\n")[1]).toMatch(/^cli night \[cli\]/);
    store.close();
  }, 180_000);
});
