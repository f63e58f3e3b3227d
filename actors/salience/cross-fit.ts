import { createHash } from "node:crypto";
import type { References } from "./calibration.ts";
import { domainBitsPerByte, fitDomainModel, withoutTexts, type DomainModel } from "./domain-model.ts";
import type { CrossFitted } from "./salience.decider.ts";

/**
 * salience-3's yardstick (issue 12). A reference scored by a model that holds it looks better than any
 * new text can, and references kept as they were scored by an older, smaller model look worse: either
 * way the comparison is off. So references and inputs alike are scored tonight by the domain's model
 * less their fold (K folds by the hash of the input id): each text by a model that never saw it, every
 * model nearly the same size. The Antechamber's model (the texts turned away as off-topic) competes
 * with the domain's: Moore & Lewis with the forming fields as the other side.
 */
export interface CrossFit {
  readonly folds: number;
  /** The seeds and the references' texts. */
  readonly domain: DomainModel;
  /** The references' texts by fold: what each fold's scoring leaves out. */
  readonly byFold: ReadonlyArray<ReadonlyArray<string>>;
  /** The Antechamber's model (null: too few texts turned away yet, or not weighted). */
  readonly antechamber: DomainModel | null;
}

/** The fold of an input: fixed by its id, so a resumed night scores it exactly as before. */
export const foldOf = (inputId: string, folds: number): number => createHash("sha256").update(inputId).digest().readUInt32BE(0) % folds;

export const crossFitOf = (folds: number, seeds: ReadonlyArray<string>, references: ReadonlyArray<{ readonly inputId: string; readonly text: string }>, antechamber: ReadonlyArray<string> | null): CrossFit => {
  const byFold: string[][] = Array.from({ length: folds }, () => []);
  for (const r of references) byFold[foldOf(r.inputId, folds)]!.push(r.text);
  return { folds, domain: fitDomainModel([...seeds, ...references.map((r) => r.text)]), byFold, antechamber: antechamber ? fitDomainModel(antechamber) : null };
};

/** Each text under the domain's model less its fold, and under the Antechamber's; one pass per fold. */
export const crossFitScores = (cf: CrossFit, items: ReadonlyArray<{ readonly inputId: string; readonly text: string }>): CrossFitted[] => {
  const out: CrossFitted[] = new Array(items.length);
  const groups = new Map<number, number[]>();
  items.forEach((it, k) => {
    const f = foldOf(it.inputId, cf.folds);
    (groups.get(f) ?? groups.set(f, []).get(f)!).push(k);
  });
  const ante = cf.antechamber;
  for (const [f, ks] of groups) {
    withoutTexts(cf.domain, cf.byFold[f] ?? [], () => {
      for (const k of ks) {
        const text = items[k]!.text;
        out[k] = { bitsPerByte: domainBitsPerByte(cf.domain, text), fold: f, antechamber: ante ? { bitsPerByte: domainBitsPerByte(ante, text), texts: ante.texts, bytes: ante.bytes } : null };
      }
    });
  }
  return out;
};

/** The references of each signal, from the references' measurements and their cross-fitted scores. */
export const crossFitReferences = (
  source: "accepted" | "night",
  refs: ReadonlyArray<{ readonly bitsPerByte: number; readonly similarity: number }>,
  fitted: ReadonlyArray<CrossFitted>,
  /** Coherence is about language, not topic: its references may be more texts than the topic's (the whole sample). */
  coherenceBits: ReadonlyArray<number> = refs.map((r) => r.bitsPerByte),
): { coherence: References; similarity: References; domainGain: References; antechamberGain?: References } => {
  const of = (values: number[]): References => ({ source, values });
  const gains = refs.map((r, k) => r.bitsPerByte - fitted[k]!.bitsPerByte);
  const ante = fitted.every((f) => f.antechamber !== null) && fitted.length > 0 ? of(fitted.map((f, k) => f.antechamber!.bitsPerByte - fitted[k]!.bitsPerByte)) : undefined;
  return { coherence: of([...coherenceBits]), similarity: of(refs.map((r) => r.similarity)), domainGain: of(gains), ...(ante ? { antechamberGain: ante } : {}) };
};
