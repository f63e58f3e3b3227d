import { describe, expect, it } from "vitest";
import { matchIdentities, memberOverlap, type FoundCluster } from "../../../actors/antechamber/identity.ts";
import type { AntechamberCluster } from "../../../events/antechamber.ts";

const params = { matchOverlap: 0.3, matchSimilarity: 0.9 };
const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const found = (members: string[], centroid: number[]): FoundCluster => ({ members, centroid, stability: 10, density: 0.8 });
const known = (clusterId: string, members: string[], centroid: number[], age = 1): AntechamberCluster => ({
  clusterId, members, centroid, size: members.length, stability: 10, density: 0.8, age, bornNight: "2026-11-01", matchedBy: "new",
});

describe("cluster identity across nights", () => {
  it("measures overlap on the smaller cluster, so a growing cluster overlaps fully", () => {
    expect(memberOverlap(ids("a", 4), ids("a", 12))).toBe(1);
    expect(memberOverlap(["a", "b"], ["c"])).toBe(0);
    expect(memberOverlap([], ["c"])).toBe(0);
  });

  it("given a cluster last night, when tonight's shares members, then it keeps its id and grows a night older", () => {
    const [c] = matchIdentities([known("ac-1", ids("a", 6), [1, 0], 2)], [found([...ids("a", 4), ...ids("b", 6)], [0, 1])], params, "2026-11-03");
    expect(c).toMatchObject({ clusterId: "ac-1", age: 3, bornNight: "2026-11-01", matchedBy: "overlap", size: 10 });
  });

  it("given a cluster last night, when tonight's has new members only but the same centroid, then it is matched by proximity", () => {
    const [c] = matchIdentities([known("ac-1", ids("a", 6), [1, 0])], [found(ids("b", 6), [0.99, 0.1])], params, "2026-11-02");
    expect(c).toMatchObject({ clusterId: "ac-1", age: 2, matchedBy: "centroid" });
  });

  it("when tonight's cluster is far and shares nothing, then it is born tonight with a derived id", () => {
    const [c] = matchIdentities([known("ac-1", ids("a", 6), [1, 0])], [found(ids("b", 6), [0, 1])], params, "2026-11-02");
    expect(c).toMatchObject({ clusterId: "ac-2026-11-02-0", age: 1, bornNight: "2026-11-02", matchedBy: "new" });
  });

  it("matches one to one, best overlap first: a split leaves the smaller part new", () => {
    const [big, small] = matchIdentities([known("ac-1", ids("a", 10), [1, 0])], [found(ids("a", 7), [0.8, 0.6]), found([...ids("a", 10).slice(7), "x", "y"], [0.6, 0.8])], params, "2026-11-02");
    expect(big).toMatchObject({ clusterId: "ac-1", age: 2 });
    expect(small).toMatchObject({ clusterId: "ac-2026-11-02-1", age: 1 });
  });

  it("given no clusters tonight, then no identities are carried", () => {
    expect(matchIdentities([known("ac-1", ids("a", 6), [1, 0])], [], params, "2026-11-02")).toEqual([]);
  });
});
