import type { AntechamberCluster, ClusteringParams, Cohesion } from "../../events/antechamber.ts";
import { cosine } from "../../events/vectors.ts";

/** A cluster found tonight, before it has an identity. */
export interface FoundCluster {
  readonly members: ReadonlyArray<string>;
  readonly centroid: ReadonlyArray<number>;
  readonly stability: number;
  readonly density: number;
  readonly cohesion?: Cohesion;
}

/** Shared members as a fraction of the smaller cluster: a cluster that grows keeps its name. */
export const memberOverlap = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): number => {
  const small = a.length <= b.length ? a : b;
  const large = new Set(a.length <= b.length ? b : a);
  return small.length === 0 ? 0 : small.filter((m) => large.has(m)).length / small.length;
};

/** The id of a cluster first seen tonight: readable, and the same on every replay. */
export const newClusterId = (nightId: string, k: number): string => `ac-${nightId}-${k}`;

/**
 * Carries identities from last night's clusters to tonight's: pairs that share enough members
 * (matchOverlap) or whose centroids are close (matchSimilarity) are matched one to one, best overlap
 * first; a matched cluster keeps its id and grows a night older, the others are born tonight.
 */
export const matchIdentities = (
  previous: ReadonlyArray<AntechamberCluster>,
  found: ReadonlyArray<FoundCluster>,
  params: Pick<ClusteringParams, "matchOverlap" | "matchSimilarity">,
  nightId: string,
): AntechamberCluster[] => {
  const pairs: Array<{ p: number; f: number; overlap: number; similarity: number }> = [];
  previous.forEach((prev, p) =>
    found.forEach((cur, f) => {
      const overlap = memberOverlap(prev.members, cur.members);
      const similarity = cosine(prev.centroid, cur.centroid);
      if (overlap >= params.matchOverlap || similarity >= params.matchSimilarity) pairs.push({ p, f, overlap, similarity });
    }),
  );
  pairs.sort((a, b) => b.overlap - a.overlap || b.similarity - a.similarity || a.p - b.p || a.f - b.f);
  const byFound = new Map<number, (typeof pairs)[number]>();
  const taken = new Set<number>();
  for (const pair of pairs) {
    if (taken.has(pair.p) || byFound.has(pair.f)) continue;
    taken.add(pair.p);
    byFound.set(pair.f, pair);
  }
  return found.map((cur, f): AntechamberCluster => {
    const base = { members: [...cur.members], centroid: [...cur.centroid], size: cur.members.length, stability: cur.stability, density: cur.density, ...(cur.cohesion ? { cohesion: cur.cohesion } : {}) };
    const pair = byFound.get(f);
    if (!pair) return { ...base, clusterId: newClusterId(nightId, f), age: 1, bornNight: nightId, matchedBy: "new" };
    const prev = previous[pair.p]!;
    const matchedBy = pair.overlap >= params.matchOverlap ? "overlap" : "centroid";
    return { ...base, clusterId: prev.clusterId, age: prev.age + 1, bornNight: prev.bornNight, matchedBy };
  });
};
