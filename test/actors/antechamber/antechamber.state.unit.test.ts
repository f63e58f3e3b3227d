import { describe, expect, it } from "vitest";
import { decideClustering, evolveAntechamber, initialAntechamberState, type AntechamberState } from "../../../actors/antechamber/antechamber.state.ts";
import { defaultClusteringParams } from "../../../actors/antechamber/clustering.ts";
import type { RejectedQuestion } from "../../../actors/antechamber/ports.ts";
import type { DomainEvent, EventData } from "../../../events/catalogue.ts";
import type { Recorded } from "../../../events/envelope.ts";

// A field that trickles in: a few questions a night, all near one direction, so that some nights'
// windows hold too few of them to cluster (minClusterSize 5, windowNights 3).
const night = (k: number) => `2027-03-${String(k).padStart(2, "0")}`;
let seq = 0;
const field = (k: number, n: number): RejectedQuestion[] =>
  Array.from({ length: n }, (_, i) => ({ inputId: `n${k}-${i}`, seq: ++seq, nightId: night(k), vector: Float32Array.from([1, 0.01 * (i + k), 0.005 * i]) }));
const recorded = (event: DomainEvent): Recorded<DomainEvent> =>
  ({ ...event, writtenVersion: 1, seq: ++seq, subject: "s", storedAt: 0, metadata: { id: `e${seq}`, time: "2027-03-01T00:00:00Z", actor: "t", causationId: null, correlationId: "c" } }) as Recorded<DomainEvent>;

/** Completes night k with its rejections, clusters it as the Antechamber would, and folds what it recorded. */
const runNight = (s: AntechamberState, rows: RejectedQuestion[], k: number): EventData<"AntechamberClustered"> | null => {
  evolveAntechamber(s, recorded({ type: "NightCompleted", data: { nightId: night(k), accepted: 0, rejected: 0, byCause: {} } } as unknown as DomainEvent));
  const data = decideClustering(s, night(k), rows, defaultClusteringParams);
  if (data) evolveAntechamber(s, recorded({ type: "AntechamberClustered", data }));
  return data;
};

describe("the Antechamber's clusters over nights", () => {
  it("a night too thin to cluster does not end a cluster: it is found again under its id, a night older, counting every member it held", () => {
    const s = initialAntechamberState();
    const rows: RejectedQuestion[] = [];
    const clusters = [5, 0, 0, 4].map((n, i) => (rows.push(...field(i + 1, n)), runNight(s, rows, i + 1)?.clusters ?? []));
    expect(clusters[0]).toMatchObject([{ clusterId: "ac-2027-03-01-0", age: 1, size: 5, seen: 5 }]);
    // Night 2: the same five questions are still in the window and cluster again.
    expect(clusters[1]).toMatchObject([{ clusterId: "ac-2027-03-01-0", age: 2, size: 5, seen: 5 }]);
    // Night 3: still five; night 4: night 1 has left the window, four new ones do not make a cluster of five...
    expect(clusters[2]).toMatchObject([{ clusterId: "ac-2027-03-01-0", age: 3 }]);
    expect(clusters[3]).toEqual([]);
    // ...until night 5 brings two more: the cluster found is the same one, and has held eleven questions.
    rows.push(...field(5, 2));
    expect(runNight(s, rows, 5)?.clusters).toMatchObject([{ clusterId: "ac-2027-03-01-0", age: 4, size: 6, seen: 11 }]);
  });

  it("a cluster unfound for the window's length is gone: the next one is born anew", () => {
    const s = initialAntechamberState();
    const rows = field(1, 5);
    runNight(s, rows, 1);
    for (const k of [2, 3, 4, 5]) runNight(s, rows, k);
    rows.push(...field(6, 5));
    expect(runNight(s, rows, 6)?.clusters).toMatchObject([{ clusterId: "ac-2027-03-06-0", age: 1, seen: 5 }]);
  });
});
