import type { DomainEvent } from "../../events/catalogue.ts";
import type { Metadata } from "../../events/envelope.ts";
import type { Pending } from "../../events/store.ts";

let counter = 0;

/** Metadata for a test event: fixed actor, a fresh id unless given. */
export const meta = (over: Partial<Metadata> = {}): Metadata => ({
  id: `test-${process.pid}-${Date.now()}-${counter++}`,
  time: new Date().toISOString(),
  actor: "test",
  causationId: null,
  correlationId: "test-correlation",
  ...over,
});

export const pending = (event: DomainEvent, over: Partial<Metadata> = {}, expectedSubjectSeq?: number): Pending =>
  expectedSubjectSeq === undefined ? { event, metadata: meta(over) } : { event, metadata: meta(over), expectedSubjectSeq };

export const nightStarted = (nightId: string, day = "2026-11-25"): DomainEvent => ({
  type: "NightStarted",
  data: { nightId, day, trigger: "cli", untilSeq: 0 },
});

export const inputReceived = (inputId: string, day = "2026-11-25"): DomainEvent => ({
  type: "InputReceived",
  data: { inputId, day, source: { path: "test.txt", format: "text", index: 0 }, bytes: 10, contentSha256: inputId },
});

/** Collects an async iterable into an array. */
export const collect = async <T>(it: AsyncIterable<T>): Promise<T[]> => {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
};
