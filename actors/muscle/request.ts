// Deciding a training request, pure: the ledgers at a position become the job's snapshot, with a
// deterministic share of the SFT Ledger held out for the evaluation's gain.
import type { EventData } from "../../events/catalogue.ts";
import type { Recipe } from "../../events/training.ts";
import type { Ledgers } from "../../projections/ledgers.projection.ts";
import type { Lineage } from "../../projections/lineage.projection.ts";
import { createHash } from "node:crypto";
import { Refusal } from "../decider.ts";

/**
 * A small recipe for the project's tiny models on a CPU: the bigram logits live in `output`. Steps
 * come from the data: two passes over the SFT rows (beside the replayed anchor) and over the
 * preference pairs and negatives, at most 96 steps a phase (sftSteps/dpoSteps are what a recipe
 * without `epochs` trains). DPO is on: a job whose ledger holds pairs trains on them.
 */
export const tinyRecipe: Recipe = {
  rank: 4, alpha: 8, lr: 0.02, sftSteps: 24, dpoSteps: 8, batch: 4, anchorRatio: 0.25, seed: 0,
  targetModules: ["output"], ties: { k: 20, lambda: 1 }, epochs: 2, maxSteps: 96,
  candidates: { methods: ["stack", "task-arithmetic", "ties", "dare"], maxRank: 16, taskLambdas: [0.5, 1.5], dareDensity: 0.5, maxCandidates: 5 },
};

/**
 * The recipe jobs get unless config.json's `training.recipe` says otherwise: the tiny recipe at a
 * learning rate a real vocabulary survives. Measured on the default English models (the demo's
 * home: 26 SFT entries, 18 SFT steps; held-out gain / general probe perplexity against the base):
 * lr 0.02 (the tiny models' rate) 47.7% / +2,389%; 0.002: 67.6% / +77%; 0.001: 55.1% / -4.4%;
 * 0.0005: 34.8% / -9.8%. More steps move it further (0.001 over 96 steps: +651%), which the
 * evaluation's probe bound and the scaled candidates (task arithmetic from zero) catch.
 */
export const defaultRecipe: Recipe = {
  ...tinyRecipe,
  lr: 0.001,
  // General-English replay (adapters/training/replay/) is off by default: on the default English
  // models no ratio measured gave more promotions than none (README, "General-English replay": a
  // season of Debian science descriptions and three jobs on the demo's home, promotions 2+2 at 0,
  // 2+1 at 0.125, 1+1 at 0.25, 1+2 at 0.5). A recipe turns it on with generalReplayRatio.
  generalReplayRatio: 0,
  // a quarter step too: with nothing serving yet the scaled copies are the gate's fallback
  candidates: { ...tinyRecipe.candidates!, taskLambdas: [0.25, 0.5, 1.5], maxCandidates: 6 },
};

/** The recipe with a fixed number of steps per phase instead of `epochs` over the data (explicit steps win). */
export const fixedSteps = (recipe: Recipe, sftSteps: number, dpoSteps = recipe.dpoSteps): Recipe => {
  const { epochs: _epochs, maxSteps: _maxSteps, ...rest } = recipe;
  return { ...rest, sftSteps, dpoSteps };
};

export interface TrainingAsk {
  readonly jobId: string;
  readonly host: string | null;
  readonly recipe: Recipe;
  readonly baseModelSha256: string;
  readonly atSeq: number;
  readonly deadlineMs: number;
  readonly requestedBy: string;
  /** One SFT entry in this many is held out (by its id, so the split is stable); default 4. */
  readonly holdOutOneIn?: number;
}

/** The recorded rule of the Golden Anchor's split: half by the hash of the entry's id, never by chance. */
export const ANCHOR_SPLIT = "sha256(anchorId) first byte even: evaluation (never uploaded); odd: replay";
export const isAnchorEval = (anchorId: string): boolean => createHash("sha256").update(anchorId).digest()[0]! % 2 === 0;

const bucket = (id: string, n: number): number => parseInt(id.replace(/[^0-9a-f]/gi, "").slice(0, 8) || "0", 16) % n;

/**
 * TrainingRequested for the ledgers as they are at `atSeq`. Refused when there is nothing to learn
 * (fewer than two accepted inputs: one to train on and one to measure the gain on).
 */
export const requestTraining = (l: Ledgers, lin: Lineage, ask: TrainingAsk): EventData<"TrainingRequested"> => {
  if (lin.jobs.has(ask.jobId)) throw new Refusal(`job ${ask.jobId} was already requested`);
  const n = ask.holdOutOneIn ?? 4;
  const sft = [...l.sft.values()].sort((a, b) => a.seq - b.seq).map((e) => ({ id: e.inputId, seq: e.seq, sha256: e.contentSha256 }));
  if (sft.length < 2) throw new Refusal(`the SFT Ledger holds ${sft.length} entr${sft.length === 1 ? "y" : "ies"}; training needs at least 2`);
  let heldOut = sft.filter((e) => bucket(e.id, n) === 0);
  // Both sides must be non-empty whatever the hashes say.
  if (heldOut.length === 0) heldOut = [sft[sft.length - 1]!];
  if (heldOut.length === sft.length) heldOut = heldOut.slice(0, -1);
  const held = new Set(heldOut.map((e) => e.id));
  const pairs = [...l.shadow.values()].flatMap((e) => (e.correctedSha256 ? [{ id: e.inputId, seq: e.seq, promptSha256: e.promptSha256, rejectedSha256: e.rejectedSha256, correctedSha256: e.correctedSha256 }] : []));
  // One pair in four measures the preference margin, once there are enough to spare one.
  const pairsHeldOut = pairs.length >= 4 ? pairs.filter((e) => bucket(e.id, n) === 0) : [];
  const heldPair = new Set(pairsHeldOut.map((e) => e.id));
  const anchors = [...l.anchor.values()].sort((a, b) => a.seq - b.seq).map((e) => ({ id: e.anchorId, seq: e.seq, sha256: e.contentSha256 }));
  return {
    jobId: ask.jobId,
    host: ask.host,
    baseModelSha256: ask.baseModelSha256,
    recipe: ask.recipe,
    ledger: {
      atSeq: ask.atSeq,
      sft: sft.filter((e) => !held.has(e.id)),
      heldOut,
      anchor: anchors.filter((e) => !isAnchorEval(e.id)),
      anchorEval: anchors.filter((e) => isAnchorEval(e.id)),
      anchorSplit: ANCHOR_SPLIT,
      shadow: pairs.filter((e) => !heldPair.has(e.id)),
      shadowHeldOut: pairsHeldOut,
      negatives: [...l.shadow.values()].flatMap((e) => (e.correctedSha256 ? [] : [{ id: e.inputId, seq: e.seq, promptSha256: e.promptSha256, rejectedSha256: e.rejectedSha256 }])),
    },
    // The new micro-adapter trains on top of what serves, and the candidates combine the two: the
    // serving adapter already holds every earlier promotion, so nothing else is merged.
    mergeWith: [],
    servingSha256: lin.serving?.sha256 ?? null,
    deadlineMs: ask.deadlineMs,
    requestedBy: ask.requestedBy,
  };
};
