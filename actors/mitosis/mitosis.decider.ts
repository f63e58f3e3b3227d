import type { MitosisThresholds } from "../../events/antechamber.ts";
import type { DomainEvent, EventData } from "../../events/catalogue.ts";
import type { Recorded } from "../../events/envelope.ts";
import { centroids as centroidsProjection, type Centroids } from "../../projections/centroids.projection.ts";
import { Refusal, type Decider, type Decision } from "../decider.ts";
import { defaultDriftThresholds, driftCrossed, movedIn, type DriftThresholds } from "./drift.ts";
import { defaultMitosisThresholds, proposalsFor, satelliteIdOf } from "./mitosis.rules.ts";

/** Commands from the CLI and outside agents; who sent one comes from the host (ctx.requestedBy), never from the sender's payload. */
export type MitosisCommand =
  | { readonly type: "ApproveMitosis"; readonly proposalId: string }
  | { readonly type: "DeclineMitosis"; readonly proposalId: string; readonly reason: string };

export interface Proposal {
  readonly data: EventData<"MitosisProposed">;
  readonly status: "proposed" | "approved" | "declined";
  /** The last sequence on the proposal's subject: a decision expects it, so it is decided once. */
  readonly subjectSeq: number;
}

export interface MitosisState {
  readonly centroids: Centroids;
  readonly proposals: Readonly<Record<string, Proposal>>;
}

export interface MitosisConfig {
  readonly thresholds: MitosisThresholds;
  readonly drift: DriftThresholds;
}

export const defaultMitosisConfig: MitosisConfig = { thresholds: defaultMitosisThresholds, drift: defaultDriftThresholds };

const centroidTypes: ReadonlyArray<string> = centroidsProjection.canHandle;

const withProposal = (s: MitosisState, id: string, p: Proposal | undefined): MitosisState => (p ? { ...s, proposals: { ...s.proposals, [id]: p } } : s);

// The centroids are folded in place, as the projection does (a copy per event would make a night
// quadratic); the host folds a command's look ahead into a clone.
const evolve = (s: MitosisState, e: Recorded<DomainEvent>): MitosisState => {
  const state = centroidTypes.includes(e.type) ? { ...s, centroids: centroidsProjection.evolve(s.centroids, e) } : s;
  switch (e.type) {
    case "MitosisProposed":
      return withProposal(state, e.data.proposalId, { data: e.data, status: "proposed", subjectSeq: e.seq });
    case "MitosisApproved": {
      const p = state.proposals[e.data.proposalId];
      return withProposal(state, e.data.proposalId, p && { ...p, status: "approved", subjectSeq: e.seq });
    }
    case "MitosisDeclined": {
      const p = state.proposals[e.data.proposalId];
      return withProposal(state, e.data.proposalId, p && { ...p, status: "declined", subjectSeq: e.seq });
    }
    default:
      return state;
  }
};

/** Approval of a proposal: the approval, guarded by the proposal's version, and the satellite's birth. */
const approve = (p: Proposal, by: string, automatic: boolean): Decision[] => [
  { event: { type: "MitosisApproved", data: { proposalId: p.data.proposalId, by, automatic } }, expectedSubjectSeq: p.subjectSeq },
  {
    event: { type: "SatelliteBorn", data: { satelliteId: satelliteIdOf(p.data.clusterId), proposalId: p.data.proposalId, clusterId: p.data.clusterId, vector: [...p.data.centroid], members: p.data.size, ...(p.data.cohesion ? { cohesion: p.data.cohesion } : {}) } },
    expectedSubjectSeq: 0,
  },
];

const undecided = (state: MitosisState, proposalId: string): Proposal => {
  const p = state.proposals[proposalId];
  if (!p) throw new Refusal(`no mitosis proposal ${proposalId}; known: ${Object.keys(state.proposals).join(", ") || "none"}`);
  if (p.status !== "proposed") throw new Refusal(`mitosis proposal ${proposalId} was already ${p.status}`);
  return p;
};

/**
 * Mitosis: proposes a satellite for each lasting, dense cluster of the Antechamber far from every
 * centroid (once per cluster), approves it at once when configured so or on a command, and reports
 * every centroid whose nightly movement crosses a drift threshold.
 */
export const mitosisDecider = (config: MitosisConfig = defaultMitosisConfig): Decider<MitosisState, MitosisCommand> => ({
  actor: "mitosis",
  initialState: () => ({ centroids: centroidsProjection.initialState(), proposals: {} }),
  evolve,
  reactsTo: ["AntechamberClustered", "MitosisProposed", "NightCompleted"],
  react: (event, state) => {
    switch (event.type) {
      case "AntechamberClustered":
        return proposalsFor(event.data, state.centroids, (id) => state.proposals[id] !== undefined, config.thresholds).map((data) => ({
          event: { type: "MitosisProposed", data },
          expectedSubjectSeq: 0,
        }));
      case "MitosisProposed": {
        const p = state.proposals[event.data.proposalId];
        return p && p.status === "proposed" && event.data.thresholds.approval === "auto" ? approve(p, "mitosis", true) : [];
      }
      case "NightCompleted":
        return Object.values(state.centroids).flatMap((c): Decision[] => {
          const d = driftCrossed(c, event.data.nightId, config.drift);
          const move = movedIn(c, event.data.nightId);
          return [
            ...(move ? [{ event: { type: "CentroidMoved" as const, data: move } }] : []),
            ...(d ? [{ event: { type: "DriftDetected" as const, data: { centroidId: c.id, nightId: event.data.nightId, fromPrevious: d.fromPrevious, fromBirth: d.fromBirth, spread: d.spread, thresholds: { ...config.drift } } } }] : []),
          ];
        });
      default:
        return [];
    }
  },
  accepts: ["ApproveMitosis", "DeclineMitosis"],
  handle: (command, state, ctx) => {
    const by = ctx.requestedBy ?? "unknown";
    switch (command.type) {
      case "ApproveMitosis":
        return approve(undecided(state, command.proposalId), by, false);
      case "DeclineMitosis": {
        const p = undecided(state, command.proposalId);
        return [{ event: { type: "MitosisDeclined", data: { proposalId: p.data.proposalId, by, reason: command.reason } }, expectedSubjectSeq: p.subjectSeq }];
      }
      default: {
        const never: never = command;
        return never;
      }
    }
  },
});
