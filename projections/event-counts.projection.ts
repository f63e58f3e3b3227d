import { definitions } from "../events/catalogue.ts";
import type { Projection } from "./projection.ts";

export interface EventCounts {
  readonly total: number;
  readonly byType: Readonly<Record<string, number>>;
  readonly lastSeq: number;
  readonly lastTime: string | null;
}

/** How many events of each type the log holds: the cheapest health view of the stream. */
export const eventCounts: Projection<EventCounts> = {
  name: "event-counts",
  version: 1,
  canHandle: definitions.map((d) => d.type),
  initialState: () => ({ total: 0, byType: {}, lastSeq: 0, lastTime: null }),
  evolve: (s, e) => ({
    total: s.total + 1,
    byType: { ...s.byType, [e.type]: (s.byType[e.type] ?? 0) + 1 },
    lastSeq: e.seq,
    lastTime: e.metadata.time,
  }),
};
