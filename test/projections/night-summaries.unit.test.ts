import { describe, expect, it } from "vitest";
import { nightSummaries, type NightSummaries } from "../../projections/night-summaries.projection.ts";
import { meta } from "../support/events.ts";

type Evolved = Parameters<typeof nightSummaries.evolve>[1];
let seq = 0;
const stored = (type: string, data: object): Evolved => ({ type, data, seq: ++seq, metadata: meta() }) as unknown as Evolved;
const rejected = (nightId: string, cause: string) => stored("InputRejected", { nightId, inputId: `in-${seq}`, cause });

describe("night-summaries", () => {
  it("counts each night's rejections by cause as they are decided, apart from other nights", () => {
    const events = [
      stored("NightStarted", { nightId: "2026-11-01", day: "2026-11-01", trigger: "cli" }),
      rejected("2026-11-01", "off-topic"),
      rejected("2026-11-01", "incoherent"),
      rejected("2026-11-01", "off-topic"),
      stored("NightStarted", { nightId: "2026-11-02", day: "2026-11-02", trigger: "schedule" }),
      rejected("2026-11-02", "known"),
      // A rejection naming a night this log never started is ignored, not invented.
      rejected("2026-10-31", "off-topic"),
      stored("NightCompleted", { nightId: "2026-11-01", counts: { accepted: 4, rejected: 3, shadow: 0, refused: 1, dropped: 0 }, durationMs: 1200 }),
    ];
    const state = events.reduce<NightSummaries>((s, e) => nightSummaries.evolve(s, e), nightSummaries.initialState());
    expect(state["2026-11-01"]!.rejectedByCause).toEqual({ "off-topic": 2, incoherent: 1 });
    expect(state["2026-11-01"]!.counts!.rejected).toBe(3);
    expect(state["2026-11-02"]!.rejectedByCause).toEqual({ known: 1 });
    expect(state["2026-10-31"]).toBeUndefined();
  });
});
