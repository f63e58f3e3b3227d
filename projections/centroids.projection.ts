import type { Cohesion } from "../events/antechamber.ts";
import { cosine, driftTowards, normalised } from "../events/vectors.ts";
import type { Projection } from "./projection.ts";

/** How far one night's accepted questions pull the Preoccupation Centroid (exponential decay of the past). */
export const PREOCCUPATION_NIGHT_RATE = 0.1;

/**
 * The shape of a preoccupation: its prototypes are the seeded questions (kept for good) and accepted
 * questions clearly inside it (topic at or above the references' median), at most this many a night
 * and this many in all (the oldest accepted go first). Similarity is the mean of the top k.
 */
export const PROTOTYPES_PER_NIGHT = 8;
export const MAX_PROTOTYPES = 64;
/** A centroid stays within this cosine distance of its birth (the seeds' mean): drift is bounded, anchored. */
export const MAX_FROM_BIRTH = 0.05;

export interface CentroidSnapshot {
  readonly seq: number;
  readonly time: string;
  readonly nightId: string | null;
  readonly vector: number[];
  /** Mean cosine distance of the night's accepted questions from the moved centroid (0 when none). */
  readonly spread: number;
  /** Questions accepted to this centroid in the night. */
  readonly accepted: number;
  /** Of those, the ones clearly inside that moved it and became prototypes. */
  readonly moved: number;
  /** Whether the move was cut short at MAX_FROM_BIRTH from birth. */
  readonly anchored: boolean;
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
  /** Of the pending, those clearly inside (topic >= 0, or any under an uncalibrated policy), with their topic. */
  clear: Array<{ vector: number[]; topic: number }>;
  /** Topics of inputs scored nearest this centroid and not yet decided (a score comes just before its decision). */
  topics: Record<string, number>;
  /** Seeds first (never dropped), then accepted prototypes, oldest first. */
  prototypes: number[][];
  /** A satellite's cluster at birth: its members' similarities to the centroid (absent for older satellites). */
  cohesion?: Cohesion;
}

export type Centroids = Record<string, Centroid>;

export const PREOCCUPATION = "preoccupation";

const nearestId = (s: Centroids, nearest: string) => s[nearest] ?? s[PREOCCUPATION];

/** The vector a fraction `t` of the way from birth to v (renormalised). */
const between = (birth: ReadonlyArray<number>, v: ReadonlyArray<number>, t: number): number[] => normalised(birth.map((b, i) => b + t * (v[i]! - b)));

/** Pulls a vector back along the arc towards birth until it is within MAX_FROM_BIRTH (bisection). */
const anchoredTo = (birth: ReadonlyArray<number>, v: number[]): { vector: number[]; anchored: boolean } => {
  if (birth.length !== v.length || 1 - cosine(v, birth) <= MAX_FROM_BIRTH) return { vector: v, anchored: false };
  let lo = 0, hi = 1;
  for (let k = 0; k < 30; k++) {
    const mid = (lo + hi) / 2;
    if (1 - cosine(between(birth, v, mid), birth) <= MAX_FROM_BIRTH) lo = mid;
    else hi = mid;
  }
  return { vector: between(birth, v, lo), anchored: true };
};

/**
 * A centroid after a night: it moves by PREOCCUPATION_NIGHT_RATE towards the mean of the night's
 * questions clearly inside it (none: it stays), never further than MAX_FROM_BIRTH from birth; the
 * best of them (by topic, at most PROTOTYPES_PER_NIGHT) become prototypes.
 */
const moveAfterNight = (c: Centroid, seq: number, time: string, nightId: string): CentroidSnapshot => {
  const accepted = c.pending.length;
  const moved = c.clear.length;
  let spread = 0, anchored = false;
  if (moved > 0) {
    const mean = normalised(c.clear.reduce((acc, x) => acc.map((y, i) => y + x.vector[i]!), c.vector.map(() => 0)));
    const next = anchoredTo(c.birth, driftTowards(c.vector, mean, PREOCCUPATION_NIGHT_RATE));
    c.vector = next.vector;
    anchored = next.anchored;
    const best = [...c.clear].sort((a, b) => b.topic - a.topic).slice(0, PROTOTYPES_PER_NIGHT);
    c.prototypes.push(...best.map((x) => x.vector));
    const extra = c.prototypes.length - c.seeds - MAX_PROTOTYPES;
    if (extra > 0) c.prototypes.splice(c.seeds, extra);
  }
  if (accepted > 0) spread = c.pending.reduce((s, v) => s + (1 - cosine(v, c.vector)), 0) / accepted;
  c.accepted += accepted;
  c.pending = [];
  c.clear = [];
  c.topics = {};
  return { seq, time, nightId, vector: [...c.vector], spread, accepted, moved, anchored };
};

/** A centroid's seeded questions among its prototypes (all of them for one born without seeds). */
export const seedPrototypes = (c: Pick<Centroid, "seeds" | "prototypes">): number[][] => (c.seeds > 0 ? c.prototypes.slice(0, c.seeds) : c.prototypes);

/** Similarity to a centroid: the mean cosine of its k most similar prototypes (its vector when it has none). */
export const prototypeSimilarity = (c: { readonly vector: ReadonlyArray<number>; readonly prototypes: ReadonlyArray<ReadonlyArray<number>> }, v: ReadonlyArray<number>, k: number, skip = -1): number => {
  const sims = c.prototypes.flatMap((p, i) => (i === skip || p.length !== v.length ? [] : [cosine(p, v)])).sort((a, b) => b - a).slice(0, Math.max(1, k));
  if (sims.length === 0) return c.vector.length === v.length ? cosine(c.vector, v) : 0;
  return sims.reduce((a, b) => a + b, 0) / sims.length;
};

/**
 * The Preoccupation Centroid and the Satellite Centroids with their history. The preoccupation is the
 * running mean of the seeded questions; after each night it moves towards the mean of the night's
 * accepted questions by PREOCCUPATION_NIGHT_RATE (so older nights decay geometrically). A satellite
 * is born of an approved mitosis and moves the same way with the questions accepted to it. Centroids
 * stay fixed within a night, so every decision of a night is measured against the same centroids.
 */
export const centroids: Projection<Centroids> = {
  name: "centroids",
  version: 4,
  canHandle: ["PreoccupationSeeded", "InputScored", "InputAccepted", "NightCompleted", "SatelliteBorn"],
  initialState: () => ({}),
  evolve: (state, event) => {
    switch (event.type) {
      case "InputScored": {
        // The topic an accepted input had, read when its acceptance comes (right after its score).
        const c = nearestId(state, event.data.similarity.nearest);
        if (c && event.data.calibration) c.topics[event.data.inputId] = event.data.calibration.topic;
        return state;
      }
      case "PreoccupationSeeded": {
        const v = event.data.vector;
        const c = state[PREOCCUPATION] ?? { id: PREOCCUPATION, kind: "preoccupation" as const, vector: [], birth: [], seedSum: v.map(() => 0), seeds: 0, accepted: 0, bornSeq: event.seq, history: [], pending: [], clear: [], topics: {}, prototypes: [] };
        if (c.seedSum.length !== v.length) return state; // another embedder's vector: not comparable
        c.seedSum = c.seedSum.map((x, i) => x + v[i]!);
        c.seeds++;
        c.prototypes.splice(c.seeds - 1, 0, normalised(v));
        c.vector = normalised(c.seedSum);
        // Seeds arrive before the first night moves it: until then the birth follows the seeds.
        if (c.history.length === 0) c.birth = [...c.vector];
        state[PREOCCUPATION] = c;
        return state;
      }
      case "InputAccepted": {
        const c = nearestId(state, event.data.nearest);
        if (c && c.vector.length === event.data.questionVector.length) {
          c.pending.push([...event.data.questionVector]);
          const topic = c.topics[event.data.inputId];
          if (topic === undefined || topic >= 0) c.clear.push({ vector: [...event.data.questionVector], topic: topic ?? 0 });
        }
        if (c) delete c.topics[event.data.inputId];
        return state;
      }
      case "SatelliteBorn": {
        const d = event.data;
        if (state[d.satelliteId]) return state;
        const vector = normalised(d.vector);
        const birth: CentroidSnapshot = { seq: event.seq, time: event.metadata.time, nightId: null, vector: [...vector], spread: 0, accepted: 0, moved: 0, anchored: false };
        // The cluster's centroid is the satellite's one seed.
        state[d.satelliteId] = { id: d.satelliteId, kind: "satellite", vector, birth: [...vector], seedSum: [], seeds: 1, accepted: 0, bornSeq: event.seq, history: [birth], pending: [], clear: [], topics: {}, prototypes: [[...vector]], ...(d.cohesion ? { cohesion: d.cohesion } : {}) };
        return state;
      }
      case "NightCompleted": {
        for (const c of Object.values(state)) c.history.push(moveAfterNight(c, event.seq, event.metadata.time, event.data.nightId));
        return state;
      }
      default:
        return state;
    }
  },
};
