import type { AntechamberCluster, ClusteringParams } from "../../events/antechamber.ts";
import type { EventData } from "../../events/catalogue.ts";
import { median, robustSpread } from "../../events/statistics.ts";
import { cosine, normalised } from "../../events/vectors.ts";
import { hdbscan } from "./hdbscan/index.ts";
import { matchIdentities, type FoundCluster } from "./identity.ts";
import type { RejectedQuestion } from "./ports.ts";

/** The Antechamber's defaults, chosen on the tiny models' 48-dimensional question vectors. */
export const defaultClusteringParams: ClusteringParams = {
  minClusterSize: 5,
  minSamples: 4,
  metric: "cosine",
  epsilon: 0.5,
  windowNights: 3,
  matchOverlap: 0.3,
  matchSimilarity: 0.9,
};

/** The rejections of the last `windowNights` nights (this one included), in log order. */
export const windowOf = (rows: ReadonlyArray<RejectedQuestion>, completedNights: ReadonlyArray<string>, windowNights: number): RejectedQuestion[] => {
  const recent = new Set(completedNights.slice(-windowNights));
  return rows.filter((r) => recent.has(r.nightId)).sort((a, b) => a.seq - b.seq || (a.inputId < b.inputId ? -1 : 1));
};

/**
 * HDBSCAN over the questions (cosine). A single emerging field is the usual case here, so the root
 * may be the one cluster, and epsilon says how close questions must be to belong to it; without
 * that, one dense field among scattered questions would come out as all noise.
 */
export const findClusters = (rows: ReadonlyArray<RejectedQuestion>, p: ClusteringParams): { found: FoundCluster[]; noise: number } => {
  const n = rows.length;
  if (n < p.minClusterSize || n === 0) return { found: [], noise: n };
  const dim = rows[0]!.vector.length;
  const points = new Float32Array(n * dim);
  rows.forEach((r, i) => points.set(r.vector, i * dim));
  const result = hdbscan(points, n, dim, {
    minClusterSize: p.minClusterSize,
    minSamples: Math.min(p.minSamples, n),
    metric: p.metric,
    allowSingleCluster: true,
    clusterSelectionEpsilon: p.epsilon,
    threads: 1,
  });
  const found = result.clusters
    .filter((c) => c.size > 0)
    .map((c): FoundCluster => {
      const vectors = Array.from(c.members, (i) => rows[i]!.vector);
      const centroid = normalised(vectors.reduce((acc, v) => acc.map((x, k) => x + v[k]!), new Array<number>(dim).fill(0)));
      const sims = vectors.map((v) => cosine(v, centroid));
      const density = sims.reduce((s, x) => s + x, 0) / sims.length;
      const cohesion = { median: median(sims), spread: robustSpread(sims), members: sims.length };
      return { members: Array.from(c.members, (i) => rows[i]!.inputId), centroid, stability: c.stability, density, cohesion };
    })
    // Larger first, then by first member: the order (and so new ids) is the same on every replay.
    .sort((a, b) => b.members.length - a.members.length || (a.members[0]! < b.members[0]! ? -1 : 1));
  return { found, noise: result.labels.filter((l) => l < 0).length };
};

/**
 * One night's clustering, identities carried from the clusters still alive (found within the window's
 * nights), each counting the distinct questions it held over its life. Pure.
 */
export const clusterNight = (
  nightId: string,
  window: ReadonlyArray<RejectedQuestion>,
  previous: ReadonlyArray<AntechamberCluster>,
  params: ClusteringParams,
  everMembers: (clusterId: string) => ReadonlySet<string> = () => new Set(),
): EventData<"AntechamberClustered"> => {
  const { found, noise } = findClusters(window, params);
  const clusters = matchIdentities(previous, found, params, nightId).map((c) => ({ ...c, seen: new Set([...everMembers(c.clusterId), ...c.members]).size }));
  return { nightId, points: window.length, noise, params, clusters };
};
