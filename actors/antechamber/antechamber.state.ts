import type { AntechamberCluster, ClusteringParams } from "../../events/antechamber.ts";
import type { DomainEvent, EventData } from "../../events/catalogue.ts";
import type { Recorded } from "../../events/envelope.ts";
import { clusterNight, windowOf } from "./clustering.ts";
import type { RejectedQuestion } from "./ports.ts";

/** A cluster the Antechamber still knows: as last found, the night it was, and every member it ever held. */
export interface LiveCluster {
  readonly cluster: AntechamberCluster;
  readonly lastSeen: string;
  readonly everMembers: ReadonlySet<string>;
}

/** What the Antechamber remembers from the log: the nights in order, the last clustering and the clusters alive. */
export interface AntechamberState {
  readonly completedNights: string[];
  readonly clusteredNights: Set<string>;
  previous: ReadonlyArray<AntechamberCluster>;
  /** By cluster id, most recently found last; dropped once their last night has left the window. */
  readonly live: Map<string, LiveCluster>;
}

export const initialAntechamberState = (): AntechamberState => ({ completedNights: [], clusteredNights: new Set(), previous: [], live: new Map() });

/** Whether a cluster last found on night index `last` may be matched on night index `night`: its members can still be in the window. */
const stillAlive = (last: number, night: number, windowNights: number): boolean => night - last < windowNights;

/** A night's clustering, remembered (in place): the fold and a replay's recomputation both go through here. */
export const rememberClustering = (s: AntechamberState, data: EventData<"AntechamberClustered">): void => {
  s.clusteredNights.add(data.nightId);
  s.previous = data.clusters;
  for (const c of data.clusters) {
    const before = s.live.get(c.clusterId);
    s.live.delete(c.clusterId);
    s.live.set(c.clusterId, { cluster: c, lastSeen: data.nightId, everMembers: new Set([...(before?.everMembers ?? []), ...c.members]) });
  }
  const now = s.completedNights.indexOf(data.nightId);
  // The next night to cluster comes after this one: a cluster that cannot be matched then never will be.
  for (const [id, l] of s.live) if (!stillAlive(s.completedNights.indexOf(l.lastSeen), now + 1, data.params.windowNights)) s.live.delete(id);
};

/** The event types the Antechamber folds. */
export const antechamberTypes: ReadonlySet<string> = new Set(["NightCompleted", "AntechamberClustered"]);

/** Folds the log (in place: the state is owned by the fold). */
export const evolveAntechamber = (s: AntechamberState, e: Recorded<DomainEvent>): AntechamberState => {
  switch (e.type) {
    case "NightCompleted":
      if (!s.completedNights.includes(e.data.nightId)) s.completedNights.push(e.data.nightId);
      return s;
    case "AntechamberClustered":
      rememberClustering(s, e.data);
      return s;
    default:
      return s;
  }
};

/**
 * The clustering a completed night calls for, or null when that night is already clustered or has
 * nothing to cluster and no cluster to carry. `rows`
 * are the rejections up to the night's NightCompleted: the same inputs on every replay.
 */
export const decideClustering = (
  s: AntechamberState,
  nightId: string,
  rows: ReadonlyArray<RejectedQuestion>,
  params: ClusteringParams,
): EventData<"AntechamberClustered"> | null => {
  if (s.clusteredNights.has(nightId)) return null;
  const upToNight = s.completedNights.slice(0, s.completedNights.indexOf(nightId) + 1);
  const window = windowOf(rows, upToNight, params.windowNights);
  // Nothing waits and no cluster lives on: there is no fact to record.
  if (window.length === 0 && s.previous.length === 0) return null;
  // Last night's clusters first, then those a thinner night left unfound, the most recent first.
  const nightOf = (l: LiveCluster) => s.completedNights.indexOf(l.lastSeen);
  const live = [...s.live.values()].filter((l) => stillAlive(nightOf(l), upToNight.length - 1, params.windowNights)).sort((a, b) => nightOf(b) - nightOf(a));
  return clusterNight(nightId, window, live.map((l) => l.cluster), params, (id) => s.live.get(id)?.everMembers ?? new Set());
};
