import { driftTowards, normalised } from "../actors/salience/vectors.ts";
import type { Projection } from "./projection.ts";

/** How far one night's accepted questions pull the Preoccupation Centroid (exponential decay of the past). */
export const PREOCCUPATION_NIGHT_RATE = 0.1;

export interface CentroidSnapshot {
  readonly seq: number;
  readonly time: string;
  readonly nightId: string | null;
  readonly vector: number[];
}

export interface Centroid {
  readonly id: string;
  readonly kind: "preoccupation" | "satellite";
  vector: number[];
  /** Sum of the seed vectors (the preoccupation's running mean) before normalising. */
  seedSum: number[];
  seeds: number;
  accepted: number;
  bornSeq: number;
  /** The centroid after every night, and at birth: what drift is measured on. */
  history: CentroidSnapshot[];
  /** Accepted question vectors of the night in progress, applied when the night completes. */
  pending: number[][];
}

export type Centroids = Record<string, Centroid>;

export const PREOCCUPATION = "preoccupation";

const nearestId = (s: Centroids, nearest: string) => s[nearest] ?? s[PREOCCUPATION];

/**
 * The Preoccupation Centroid and the Satellite Centroids with their history. The preoccupation is the
 * running mean of the seeded questions; after each night it moves towards the mean of the night's
 * accepted questions by PREOCCUPATION_NIGHT_RATE (so older nights decay geometrically). Centroids
 * stay fixed within a night, so every decision of a night is measured against the same centroids.
 */
export const centroids: Projection<Centroids> = {
  name: "centroids",
  version: 1,
  canHandle: ["PreoccupationSeeded", "InputAccepted", "NightCompleted"],
  initialState: () => ({}),
  evolve: (state, event) => {
    switch (event.type) {
      case "PreoccupationSeeded": {
        const v = event.data.vector;
        const c = state[PREOCCUPATION] ?? { id: PREOCCUPATION, kind: "preoccupation" as const, vector: [], seedSum: v.map(() => 0), seeds: 0, accepted: 0, bornSeq: event.seq, history: [], pending: [] };
        if (c.seedSum.length !== v.length) return state; // another embedder's vector: not comparable
        c.seedSum = c.seedSum.map((x, i) => x + v[i]!);
        c.seeds++;
        c.vector = normalised(c.seedSum);
        state[PREOCCUPATION] = c;
        return state;
      }
      case "InputAccepted": {
        const c = nearestId(state, event.data.nearest);
        if (c && c.vector.length === event.data.questionVector.length) c.pending.push([...event.data.questionVector]);
        return state;
      }
      case "NightCompleted": {
        for (const c of Object.values(state)) {
          if (c.pending.length > 0) {
            const mean = normalised(c.pending.reduce((acc, v) => acc.map((x, i) => x + v[i]!), c.vector.map(() => 0)));
            c.vector = driftTowards(c.vector, mean, PREOCCUPATION_NIGHT_RATE);
            c.accepted += c.pending.length;
            c.pending = [];
          }
          c.history.push({ seq: event.seq, time: event.metadata.time, nightId: event.data.nightId, vector: [...c.vector] });
        }
        return state;
      }
      default:
        return state;
    }
  },
};
