import type { Projection } from "./projection.ts";

export interface ClusterView {
  readonly clusterId: string;
  size: number;
  /** Distinct questions over its life (what Mitosis's minMembers counts). */
  seen: number;
  age: number;
  stability: number;
  density: number;
  readonly bornNight: string;
  lastNight: string;
  status: "watching" | "proposed" | "approved" | "declined";
  proposalId: string | null;
  satelliteId: string | null;
}

export interface AntechamberView {
  /** Off-topic rejections: the questions waiting in the Antechamber. */
  rejected: number;
  /** Every night's clustering in order, in short. */
  nights: Array<{ nightId: string; seq: number; points: number; noise: number; clusters: string[] }>;
  /** Every cluster ever seen, as of its last night. */
  clusters: Record<string, ClusterView>;
}

const byProposal = (s: AntechamberView, proposalId: string): ClusterView | undefined => Object.values(s.clusters).find((c) => c.proposalId === proposalId);

/**
 * The Antechamber as people read it: the clusterings night by night, each cluster with its age and
 * what Mitosis made of it. The vectors themselves live in the LanceDB projection (adapters/vectors).
 */
export const antechamberView: Projection<AntechamberView> = {
  name: "antechamber",
  version: 2,
  canHandle: ["InputRejected", "AntechamberClustered", "MitosisProposed", "MitosisApproved", "MitosisDeclined", "SatelliteBorn"],
  initialState: () => ({ rejected: 0, nights: [], clusters: {} }),
  evolve: (s, e) => {
    switch (e.type) {
      case "InputRejected":
        if (e.data.cause === "off-topic") s.rejected++;
        return s;
      case "AntechamberClustered": {
        const d = e.data;
        s.nights.push({ nightId: d.nightId, seq: e.seq, points: d.points, noise: d.noise, clusters: d.clusters.map((c) => c.clusterId) });
        for (const c of d.clusters) {
          const known = s.clusters[c.clusterId];
          const facts = { size: c.size, seen: c.seen ?? c.size, age: c.age, stability: c.stability, density: c.density, lastNight: d.nightId };
          s.clusters[c.clusterId] = known
            ? { ...known, ...facts }
            : { clusterId: c.clusterId, bornNight: c.bornNight, status: "watching", proposalId: null, satelliteId: null, ...facts };
        }
        return s;
      }
      case "MitosisProposed": {
        const c = s.clusters[e.data.clusterId];
        if (c) Object.assign(c, { status: "proposed", proposalId: e.data.proposalId });
        return s;
      }
      case "MitosisApproved":
      case "MitosisDeclined": {
        const c = byProposal(s, e.data.proposalId);
        if (c) c.status = e.type === "MitosisApproved" ? "approved" : "declined";
        return s;
      }
      case "SatelliteBorn": {
        const c = s.clusters[e.data.clusterId];
        if (c) c.satelliteId = e.data.satelliteId;
        return s;
      }
      default:
        return s;
    }
  },
};
