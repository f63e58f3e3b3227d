import type { Projection } from "./projection.ts";

export interface NightSummary {
  readonly nightId: string;
  readonly day: string;
  readonly trigger: string;
  readonly startedSeq: number;
  readonly startedAt: string;
  readonly completedSeq?: number;
  readonly counts?: { accepted: number; rejected: number; shadow: number; refused: number; dropped: number };
  readonly durationMs?: number;
  /** Set when the night was cut off at its deadline: how many inputs it left to the next night, and why. */
  readonly cutOff?: { readonly deadlineAt: string; readonly left: number; readonly detail: string } | null;
  /** Rejections of this night by cause, counted as they are decided (the night's own `NightCompleted` has only the total). */
  readonly rejectedByCause: Readonly<Record<string, number>>;
}

export type NightSummaries = Record<string, NightSummary>;

/** One row per night: when it started, what it decided, how long it took. */
export const nightSummaries: Projection<NightSummaries> = {
  name: "night-summaries",
  // 2: counts carry `dropped` (NightCompleted v2). 3: rejections by cause. 4: cut off at the deadline (NightCompleted v3).
  version: 4,
  canHandle: ["NightStarted", "NightCompleted", "InputRejected"],
  initialState: () => ({}),
  evolve: (state, event) => {
    switch (event.type) {
      case "NightStarted": {
        const d = event.data as { nightId: string; day: string; trigger: string };
        return { ...state, [d.nightId]: { nightId: d.nightId, day: d.day, trigger: d.trigger, startedSeq: event.seq, startedAt: event.metadata.time, rejectedByCause: state[d.nightId]?.rejectedByCause ?? {} } };
      }
      case "NightCompleted": {
        const d = event.data as { nightId: string; counts: NightSummary["counts"]; durationMs: number; cutOff: { deadlineAt: string; left: number; detail: string } | null };
        const night = state[d.nightId];
        if (!night) return state;
        const cutOff = d.cutOff ? { deadlineAt: d.cutOff.deadlineAt, left: d.cutOff.left, detail: d.cutOff.detail } : null;
        return { ...state, [d.nightId]: { ...night, completedSeq: event.seq, counts: d.counts!, durationMs: d.durationMs, cutOff } };
      }
      case "InputRejected": {
        const { nightId, cause } = event.data as { nightId: string; cause: string };
        const night = state[nightId];
        if (!night) return state;
        return { ...state, [nightId]: { ...night, rejectedByCause: { ...night.rejectedByCause, [cause]: (night.rejectedByCause[cause] ?? 0) + 1 } } };
      }
      default:
        return state;
    }
  },
};
