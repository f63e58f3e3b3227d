import { cosine, driftTowards, normalised } from "../events/vectors.ts";
import type { Projection } from "./projection.ts";

/** How far one night's accepted questions pull the Preoccupation Centroid (exponential decay of the past). */
export const PREOCCUPATION_NIGHT_RATE = 0.1;

export interface CentroidSnapshot {
  readonly seq: number;
  readonly time: string;
  readonly nightId: string | null;
  readonly vector: number[];
  /** Mean cosine distance of the night's accepted questions from the moved centroid (0 when none). */
  readonly spread: number;
  /** Questions accepted to this centroid in the night. */
  readonly accepted: number;
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
  /** The vector at birth: the seeded mean for the preoccupation, the cluster's centroid for a satellite. */
  birth: number[];
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
 * accepted questions by PREOCCUPATION_NIGHT_RATE (so older nights decay geometrically). A satellite
 * is born of an approved mitosis and moves the same way with the questions accepted to it. Centroids
 * stay fixed within a night, so every decision of a night is measured against the same centroids.
 */
export const centroids: Projection<Centroids> = {
  name: "centroids",
  version: 2,
  canHandle: ["PreoccupationSeeded", "InputAccepted", "NightCompleted", "SatelliteBorn"],
  initialState: () => ({}),
  evolve: (state, event) => {
    switch (event.type) {
      case "PreoccupationSeeded": {
        const v = event.data.vector;
        const c = state[PREOCCUPATION] ?? { id: PREOCCUPATION, kind: "preoccupation" as const, vector: [], birth: [], seedSum: v.map(() => 0), seeds: 0, accepted: 0, bornSeq: event.seq, history: [], pending: [] };
        if (c.seedSum.length !== v.length) return state; // another embedder's vector: not comparable
        c.seedSum = c.seedSum.map((x, i) => x + v[i]!);
        c.seeds++;
        c.vector = normalised(c.seedSum);
        // Seeds arrive before the first night moves it: until then the birth follows the seeds.
        if (c.history.length === 0) c.birth = [...c.vector];
        state[PREOCCUPATION] = c;
        return state;
      }
      case "InputAccepted": {
        const c = nearestId(state, event.data.nearest);
        if (c && c.vector.length === event.data.questionVector.length) c.pending.push([...event.data.questionVector]);
        return state;
      }
      case "SatelliteBorn": {
        const d = event.data;
        if (state[d.satelliteId]) return state;
        const vector = normalised(d.vector);
        const birth: CentroidSnapshot = { seq: event.seq, time: event.metadata.time, nightId: null, vector: [...vector], spread: 0, accepted: 0 };
        state[d.satelliteId] = { id: d.satelliteId, kind: "satellite", vector, birth: [...vector], seedSum: [], seeds: 0, accepted: 0, bornSeq: event.seq, history: [birth], pending: [] };
        return state;
      }
      case "NightCompleted": {
        for (const c of Object.values(state)) {
          const accepted = c.pending.length;
          let spread = 0;
          if (accepted > 0) {
            const mean = normalised(c.pending.reduce((acc, v) => acc.map((x, i) => x + v[i]!), c.vector.map(() => 0)));
            c.vector = driftTowards(c.vector, mean, PREOCCUPATION_NIGHT_RATE);
            spread = c.pending.reduce((s, v) => s + (1 - cosine(v, c.vector)), 0) / accepted;
            c.accepted += accepted;
            c.pending = [];
          }
          c.history.push({ seq: event.seq, time: event.metadata.time, nightId: event.data.nightId, vector: [...c.vector], spread, accepted });
        }
        return state;
      }
      default:
        return state;
    }
  },
};
