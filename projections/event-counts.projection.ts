import { definitions } from "../events/catalogue.ts";
import type { Projection } from "./projection.ts";

export interface EventCounts {
  total: number;
  readonly byType: Record<string, number>;
  lastSeq: number;
  lastTime: string | null;
}

/** How many events of each type the log holds: the cheapest health view of the stream. Updated in place (owned by the fold). */
export const eventCounts: Projection<EventCounts> = {
  name: "event-counts",
  version: 1,
  canHandle: definitions.map((d) => d.type),
  initialState: () => ({ total: 0, byType: {}, lastSeq: 0, lastTime: null }),
  evolve: (s, e) => {
    s.total++;
    s.byType[e.type] = (s.byType[e.type] ?? 0) + 1;
    s.lastSeq = e.seq;
    s.lastTime = e.metadata.time;
    return s;
  },
};
