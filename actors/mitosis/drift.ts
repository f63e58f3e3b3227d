import { MAX_FROM_BIRTH, MAX_PROTOTYPES, PREOCCUPATION_NIGHT_RATE, PROTOTYPES_PER_NIGHT, type Centroid } from "../../projections/centroids.projection.ts";
import type { EventData } from "../../events/catalogue.ts";
import { cosine } from "../../events/vectors.ts";

/** Drift thresholds (cosine distances): crossing either gives DriftDetected. */
export interface DriftThresholds {
  readonly fromPrevious: number;
  readonly fromBirth: number;
}

// A night moves a centroid at most a tenth of the way (PREOCCUPATION_NIGHT_RATE): 1 - cos(atan(1/9)) = 0.006
// towards an orthogonal mean. A night past two thirds of that, or 0.03 (about 14 degrees) from birth, is drift.
export const defaultDriftThresholds: DriftThresholds = { fromPrevious: 0.004, fromBirth: 0.03 };

/** One centroid after one night: how far it moved and how spread its night's questions were. */
export interface DriftPoint {
  readonly centroidId: string;
  readonly nightId: string | null;
  readonly seq: number;
  readonly time: string;
  readonly fromPrevious: number;
  readonly fromBirth: number;
  readonly spread: number;
  readonly vector: ReadonlyArray<number>;
}

const distance = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): number => Math.max(0, 1 - cosine(a, b));

/** The drift series of a centroid: one point per snapshot (birth and every night since). */
export const driftSeries = (c: Centroid): DriftPoint[] => {
  const birth = c.birth.length > 0 ? c.birth : (c.history[0]?.vector ?? c.vector);
  return c.history.map((h, i) => {
    const prev = i === 0 ? birth : c.history[i - 1]!.vector;
    return { centroidId: c.id, nightId: h.nightId, seq: h.seq, time: h.time, fromPrevious: distance(h.vector, prev), fromBirth: distance(h.vector, birth), spread: h.spread, vector: h.vector };
  });
};

/** The drift of a centroid in the night just completed, if it crossed a threshold. */
export const driftCrossed = (c: Centroid, nightId: string, t: DriftThresholds): DriftPoint | null => {
  const last = driftSeries(c).at(-1);
  if (!last || last.nightId !== nightId) return null;
  return last.fromPrevious > t.fromPrevious || last.fromBirth > t.fromBirth ? last : null;
};

/** The move a centroid made in the night just completed, as the event reports it; null when it did not move. */
export const movedIn = (c: Centroid, nightId: string): EventData<"CentroidMoved"> | null => {
  const last = driftSeries(c).at(-1);
  const h = c.history.at(-1);
  if (!last || !h || last.nightId !== nightId || h.moved === 0) return null;
  return {
    centroidId: c.id, nightId, accepted: h.accepted, moved: h.moved, fromPrevious: last.fromPrevious, fromBirth: last.fromBirth, anchored: h.anchored, prototypes: c.prototypes.length,
    limits: { rate: PREOCCUPATION_NIGHT_RATE, maxFromBirth: MAX_FROM_BIRTH, prototypesPerNight: PROTOTYPES_PER_NIGHT, maxPrototypes: MAX_PROTOTYPES },
  };
};
