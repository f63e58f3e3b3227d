import { Schema } from "effect";
import { defineEvent } from "./define.ts";

const Vector = Schema.Array(Schema.Finite);

/**
 * How close a cluster's members stand to its centroid (cosine): their median and robust spread. A
 * satellite born of the cluster judges a new question against these, so its topic is measured on its
 * own members' scale, as the preoccupation's is on its references'. In-sample (each member is part of
 * the centroid) on purpose: it makes a satellite a little harder to be nearest than the preoccupation.
 * Measured on the Debian scenario, each member against the centroid of the others instead sent 26% of
 * the domain's decisions after the birth to the satellite (10% in-sample), and 52% of hamradio's (38%).
 */
export const Cohesion = Schema.Struct({ median: Schema.Finite, spread: Schema.Finite, members: Schema.Finite });
export type Cohesion = typeof Cohesion.Type;

/** How the Antechamber clustered: HDBSCAN's parameters, the window and the identity rules, as used. */
export const ClusteringParams = Schema.Struct({
  minClusterSize: Schema.Finite,
  minSamples: Schema.Finite,
  metric: Schema.Literals(["cosine", "euclidean"]),
  /** Questions closer than this (cosine distance) are one field: HDBSCAN's cluster_selection_epsilon. */
  epsilon: Schema.Finite,
  /** Only the rejections of the last this-many nights are clustered: a field must keep arriving. */
  windowNights: Schema.Finite,
  /** A cluster keeps its identity when this fraction of the smaller one's members are shared... */
  matchOverlap: Schema.Finite,
  /** ...or when the centroids are at least this similar. */
  matchSimilarity: Schema.Finite,
});
export type ClusteringParams = typeof ClusteringParams.Type;

export const AntechamberCluster = Schema.Struct({
  clusterId: Schema.String,
  /** Input ids of the rejected questions in the cluster. */
  members: Schema.Array(Schema.String),
  centroid: Vector,
  size: Schema.Finite,
  /** Persistence in HDBSCAN's condensed tree. */
  stability: Schema.Finite,
  /** Mean cosine similarity of the members to the centroid. */
  density: Schema.Finite,
  /** The members' similarities to the centroid (absent in clusterings recorded before it was). */
  cohesion: Schema.optional(Cohesion),
  /**
   * Nights it was found on, this one included. A night whose window holds too few rejections to
   * cluster does not end it: it is matched again while its members are still in the window.
   */
  age: Schema.Finite,
  /** Distinct rejected questions it held over its life, this night's included (absent before it was recorded: `size`). */
  seen: Schema.optional(Schema.Finite),
  bornNight: Schema.String,
  /** How its identity was carried from the previous night. */
  matchedBy: Schema.Literals(["new", "overlap", "centroid"]),
});
export type AntechamberCluster = typeof AntechamberCluster.Type;

export const AntechamberClustered = defineEvent({
  type: "AntechamberClustered",
  family: "antechamber",
  description: "After a night, the rejected off-topic questions clustered by density (HDBSCAN), each cluster with its identity and age.",
  schema: Schema.Struct({
    nightId: Schema.String,
    /** Questions clustered (the window) and how many of them are noise. */
    points: Schema.Finite,
    noise: Schema.Finite,
    params: ClusteringParams,
    clusters: Schema.Array(AntechamberCluster),
  }),
  entity: (d) => d.nightId,
});

/** The rules of Mitosis, recorded with every proposal. */
export const MitosisThresholds = Schema.Struct({
  minNights: Schema.Finite,
  /** Distinct questions the cluster held over its life: a field that keeps arriving slowly gathers them night by night. */
  minMembers: Schema.Finite,
  minStability: Schema.Finite,
  /** A cluster this similar (cosine) to an existing centroid is that centroid's business, not a new field. */
  maxSimilarity: Schema.Finite,
  approval: Schema.Literals(["auto", "command"]),
});
export type MitosisThresholds = typeof MitosisThresholds.Type;

export const MitosisProposed = defineEvent({
  type: "MitosisProposed",
  family: "mitosis",
  description: "A lasting, dense cluster of rejected questions is proposed as a new Satellite Centroid, with the evidence.",
  schema: Schema.Struct({
    proposalId: Schema.String,
    clusterId: Schema.String,
    nightId: Schema.String,
    centroid: Vector,
    size: Schema.Finite,
    /** Distinct questions over the cluster's life (what `minMembers` counts). */
    seen: Schema.optional(Schema.Finite),
    age: Schema.Finite,
    stability: Schema.Finite,
    density: Schema.Finite,
    cohesion: Schema.optional(Cohesion),
    /** The nearest existing centroid and its similarity. */
    nearest: Schema.Struct({ centroidId: Schema.String, similarity: Schema.Finite }),
    thresholds: MitosisThresholds,
  }),
  entity: (d) => d.proposalId,
});

export const MitosisApproved = defineEvent({
  type: "MitosisApproved",
  family: "mitosis",
  description: "A mitosis proposal was approved, automatically or by a command.",
  schema: Schema.Struct({ proposalId: Schema.String, by: Schema.String, automatic: Schema.Boolean }),
  entity: (d) => d.proposalId,
});

export const MitosisDeclined = defineEvent({
  type: "MitosisDeclined",
  family: "mitosis",
  description: "A mitosis proposal was declined by a command: no satellite is born of it.",
  schema: Schema.Struct({ proposalId: Schema.String, by: Schema.String, reason: Schema.String }),
  entity: (d) => d.proposalId,
});

export const SatelliteBorn = defineEvent({
  type: "SatelliteBorn",
  family: "satellite",
  description: "A Satellite Centroid is born of an approved proposal: from now on Salience measures inputs against it too.",
  schema: Schema.Struct({ satelliteId: Schema.String, proposalId: Schema.String, clusterId: Schema.String, vector: Vector, members: Schema.Finite, cohesion: Schema.optional(Cohesion) }),
  entity: (d) => d.satelliteId,
});

export const DriftDetected = defineEvent({
  type: "DriftDetected",
  family: "drift",
  description: "A centroid moved more than a threshold in a night (cosine distance from the previous night or from its birth).",
  schema: Schema.Struct({
    centroidId: Schema.String,
    nightId: Schema.String,
    fromPrevious: Schema.Finite,
    fromBirth: Schema.Finite,
    /** Mean cosine distance of the night's accepted questions from the centroid. */
    spread: Schema.Finite,
    thresholds: Schema.Struct({ fromPrevious: Schema.Finite, fromBirth: Schema.Finite }),
  }),
  entity: (d) => `${d.centroidId}`,
});

export const CentroidMoved = defineEvent({
  type: "CentroidMoved",
  family: "drift",
  description: "A centroid moved after a night: towards the night's accepted questions clearly inside it, bounded and anchored to its birth, with the numbers of the move.",
  schema: Schema.Struct({
    centroidId: Schema.String,
    nightId: Schema.String,
    /** Questions accepted to the centroid in the night, and those clearly inside it that moved it. */
    accepted: Schema.Finite,
    moved: Schema.Finite,
    /** Cosine distances of the new vector from the previous night's and from birth. */
    fromPrevious: Schema.Finite,
    fromBirth: Schema.Finite,
    /** Whether the move was cut short at maxFromBirth. */
    anchored: Schema.Boolean,
    prototypes: Schema.Finite,
    limits: Schema.Struct({ rate: Schema.Finite, maxFromBirth: Schema.Finite, prototypesPerNight: Schema.Finite, maxPrototypes: Schema.Finite }),
  }),
  entity: (d) => `${d.centroidId}`,
});
