import type { AntechamberCluster, ClusteringParams } from "../../events/antechamber.ts";
import type { DomainEvent, EventData } from "../../events/catalogue.ts";
import type { Recorded } from "../../events/envelope.ts";
import { clusterNight, windowOf } from "./clustering.ts";
import type { RejectedQuestion } from "./ports.ts";

/** What the Antechamber remembers from the log: the nights in order and the last clustering. */
export interface AntechamberState {
  readonly completedNights: string[];
  readonly clusteredNights: Set<string>;
  previous: ReadonlyArray<AntechamberCluster>;
}

export const initialAntechamberState = (): AntechamberState => ({ completedNights: [], clusteredNights: new Set(), previous: [] });

/** The event types the Antechamber folds. */
export const antechamberTypes: ReadonlySet<string> = new Set(["NightCompleted", "AntechamberClustered"]);

/** Folds the log (in place: the state is owned by the fold). */
export const evolveAntechamber = (s: AntechamberState, e: Recorded<DomainEvent>): AntechamberState => {
  switch (e.type) {
    case "NightCompleted":
      if (!s.completedNights.includes(e.data.nightId)) s.completedNights.push(e.data.nightId);
      return s;
    case "AntechamberClustered":
      s.clusteredNights.add(e.data.nightId);
      s.previous = e.data.clusters;
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
  return clusterNight(nightId, window, s.previous, params);
};
