import { describe, expect, it } from "vitest";
import type { Recorded } from "../../../events/envelope.ts";
import type { DomainEvent } from "../../../events/catalogue.ts";
import type { ReportData } from "../../../adapters/report/collect.ts";
import { trainingNow } from "../../../adapters/dashboard/views.ts";
import { liveLine } from "../../../adapters/dashboard/live.ts";
import { Egress } from "../../../adapters/egress/egress.ts";
import { defaultAirlock } from "../../../adapters/egress/policy.ts";
import type { EventStore } from "../../../events/store.ts";
import { meta } from "../../support/events.ts";

let seq = 0;
const recorded = (event: unknown): Recorded<DomainEvent> => ({ ...(event as DomainEvent), writtenVersion: 1, metadata: meta(), seq: ++seq, subject: "s", storedAt: 0 }) as unknown as Recorded<DomainEvent>;
type Of<T extends DomainEvent["type"]> = Extract<Recorded<DomainEvent>, { type: T }>;

const data = (over: Partial<ReportData>): ReportData => ({
  until: 10, generatedAt: "2026-12-02T03:00:00.000Z", nights: {}, centroids: {}, rejected: [], rejections: { counts: {}, examples: {} }, contentOf: new Map(), clusterings: [], births: [], proposals: [], adapters: [], training: [], cited: new Map(), ...over,
});

describe("the dashboard's training view", () => {
  it("names the job running and shows its step, loss and ETA", () => {
    const requested = recorded({ type: "TrainingRequested", data: { jobId: "job-7" } }) as Of<"TrainingRequested">;
    const step = recorded({ type: "TrainingProgressed", data: { jobId: "job-7", phase: "sft", step: 12, of: 24, loss: 3.25, margin: null, etaSeconds: 125, logOffset: 0 } }) as Of<"TrainingProgressed">;
    const html = trainingNow(data({ adapters: [{ jobId: "job-7", requested }], training: [{ jobId: "job-7", progress: [step] }] }));
    expect(html).toMatch(/Running: <b data-job="job-7">job-7<\/b> \(training\)/);
    expect(html).toContain("sft 12/24");
    expect(html).toContain("3.2500");
    expect(html).toContain("2m05s");
  });
  it("says when no job runs", () => {
    expect(trainingNow(data({}))).toContain("No job running.");
  });
});

describe("a live timeline line", () => {
  it("carries a decision's cause and reason, never a vector, and withholds a private input's reason", () => {
    const store = {} as EventStore; // the egress only seals here: it reads nothing
    const egress = new Egress(store, defaultAirlock);
    const e = recorded({ type: "InputRejected", data: { inputId: "in-1", nightId: "n1", reason: "nearest centroid preoccupation at similarity 0.2 < 0.35", cause: "off-topic", nearest: "preoccupation", similarity: 0.2, questionVector: [0.6, 0.8], policy: {}, models: {} } });
    const open = liveLine(e, { egress, mode: "redacted", hidden: new Set() });
    expect(open.kind).toBe("decision");
    expect(open.gist).toMatch(/^n1 {2}in-1 {2}off-topic: nearest centroid preoccupation/);
    expect(open.gist).not.toContain("0.6");
    const hidden = liveLine(e, { egress, mode: "redacted", hidden: new Set(["in-1"]) });
    expect(hidden.gist).toContain("[withheld by the airlock]");
    expect(hidden.gist).not.toContain("nearest centroid");
  });
});
