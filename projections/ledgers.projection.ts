import type { Projection } from "./projection.ts";

export interface SftEntry {
  readonly inputId: string;
  readonly seq: number;
  readonly nightId: string;
  readonly contentSha256: string;
  readonly question: string | null;
  readonly similarity: number;
  readonly surprise: number;
}

export interface ShadowEntry {
  readonly inputId: string;
  readonly seq: number;
  readonly nightId: string;
  readonly promptSha256: string;
  readonly rejectedSha256: string;
  readonly correctedSha256: string | null;
}

export interface AnchorEntry {
  readonly anchorId: string;
  readonly seq: number;
  readonly contentSha256: string;
}

export interface Ledgers {
  readonly sft: Map<string, SftEntry>;
  readonly shadow: Map<string, ShadowEntry>;
  readonly anchor: Map<string, AnchorEntry>;
  /** Content hash and distilled question of every input, to fill ledger entries. */
  readonly inputs: Map<string, { contentSha256: string; question: string | null }>;
}

/**
 * The SFT Ledger (accepted inputs), the Shadow Ledger (the model's failed outputs, DPO negatives) and
 * the Golden Anchor set, in log order. Maps owned by the fold, updated in place.
 */
export const ledgers: Projection<Ledgers> = {
  name: "ledgers",
  version: 2,
  canHandle: ["InputReceived", "InputScored", "InputAccepted", "ShadowRecorded", "AnchorAdded", "InputForgotten"],
  initialState: () => ({ sft: new Map(), shadow: new Map(), anchor: new Map(), inputs: new Map() }),
  evolve: (s, e) => {
    switch (e.type) {
      case "InputReceived":
        s.inputs.set(e.data.inputId, { contentSha256: e.data.contentSha256, question: null });
        return s;
      case "InputScored": {
        const i = s.inputs.get(e.data.inputId);
        if (i) i.question = e.data.question.text;
        return s;
      }
      case "InputAccepted": {
        const i = s.inputs.get(e.data.inputId);
        if (i) s.sft.set(e.data.inputId, { inputId: e.data.inputId, seq: e.seq, nightId: e.data.nightId, contentSha256: i.contentSha256, question: i.question, similarity: e.data.similarity, surprise: e.data.surprise });
        return s;
      }
      case "ShadowRecorded":
        s.shadow.set(e.data.inputId, { inputId: e.data.inputId, seq: e.seq, nightId: e.data.nightId, promptSha256: e.data.promptSha256, rejectedSha256: e.data.rejectedSha256, correctedSha256: e.data.correctedSha256 });
        return s;
      case "InputForgotten":
        // A forgotten input is no longer learned from: it leaves every ledger.
        s.sft.delete(e.data.inputId);
        s.shadow.delete(e.data.inputId);
        s.inputs.delete(e.data.inputId);
        return s;
      case "AnchorAdded":
        s.anchor.set(e.data.anchorId, { anchorId: e.data.anchorId, seq: e.seq, contentSha256: e.data.contentSha256 });
        return s;
      default:
        return s;
    }
  },
  toJSON: (s) => ({ sft: [...s.sft.values()], shadow: [...s.shadow.values()], anchor: [...s.anchor.values()], inputs: [...s.inputs.entries()] }),
  fromJSON: (j) => {
    const o = j as { sft: SftEntry[]; shadow: ShadowEntry[]; anchor: AnchorEntry[]; inputs: Array<[string, { contentSha256: string; question: string | null }]> };
    return {
      sft: new Map(o.sft.map((x) => [x.inputId, x])),
      shadow: new Map(o.shadow.map((x) => [x.inputId, x])),
      anchor: new Map(o.anchor.map((x) => [x.anchorId, x])),
      inputs: new Map(o.inputs),
    };
  },
};
