import type { AntechamberCluster, MitosisThresholds } from "../../events/antechamber.ts";
import type { EventData } from "../../events/catalogue.ts";
import type { Centroids } from "../../projections/centroids.projection.ts";
import { cosine } from "../../events/vectors.ts";

export const defaultMitosisThresholds: MitosisThresholds = { minNights: 3, minMembers: 10, minStability: 20, maxSimilarity: 0.6, approval: "auto" };

/** The proposal of a cluster, its satellite: ids derived from the cluster's, so one cluster gives one proposal. */
export const proposalIdOf = (clusterId: string): string => `mitosis-${clusterId}`;
export const satelliteIdOf = (clusterId: string): string => `satellite-${clusterId}`;

/** The existing centroid nearest to a vector. */
export const nearestCentroid = (centroids: Centroids, v: ReadonlyArray<number>): { centroidId: string; similarity: number } =>
  Object.values(centroids).reduce(
    (best, c) => {
      const similarity = c.vector.length === v.length ? cosine(c.vector, v) : 0;
      return similarity > best.similarity ? { centroidId: c.id, similarity } : best;
    },
    { centroidId: "none", similarity: -1 },
  );

/** The distinct questions a cluster held over its life (a clustering recorded before that was counted: its size). */
export const membersSeen = (c: Pick<AntechamberCluster, "size" | "seen">): number => c.seen ?? c.size;

/** Why a cluster is not (yet) a new field; empty when it is. */
export const mitosisObjections = (c: AntechamberCluster, nearest: { similarity: number }, t: MitosisThresholds): string[] => [
  ...(c.age < t.minNights ? [`found on ${c.age} night(s) < ${t.minNights}`] : []),
  ...(membersSeen(c) < t.minMembers ? [`${membersSeen(c)} member(s) over its life < ${t.minMembers}`] : []),
  ...(c.stability < t.minStability ? [`stability ${c.stability.toFixed(2)} < ${t.minStability}`] : []),
  ...(nearest.similarity >= t.maxSimilarity ? [`similarity ${nearest.similarity.toFixed(3)} to an existing centroid >= ${t.maxSimilarity}`] : []),
];

/**
 * The proposals a clustering calls for: clusters that lived long enough, are big and stable enough,
 * are far from every existing centroid, and were never proposed before.
 */
export const proposalsFor = (
  clustered: EventData<"AntechamberClustered">,
  centroids: Centroids,
  alreadyProposed: (proposalId: string) => boolean,
  t: MitosisThresholds,
): Array<EventData<"MitosisProposed">> =>
  clustered.clusters.flatMap((c) => {
    const proposalId = proposalIdOf(c.clusterId);
    if (alreadyProposed(proposalId)) return [];
    const nearest = nearestCentroid(centroids, c.centroid);
    if (mitosisObjections(c, nearest, t).length > 0) return [];
    return [{ proposalId, clusterId: c.clusterId, nightId: clustered.nightId, centroid: [...c.centroid], size: c.size, seen: membersSeen(c), age: c.age, stability: c.stability, density: c.density, ...(c.cohesion ? { cohesion: c.cohesion } : {}), nearest, thresholds: t }];
  });
