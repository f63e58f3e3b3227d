import type { Cohesion } from "../../events/antechamber.ts";
import type { Calibration } from "../../events/salience.ts";
import { median, robustSpread } from "../../events/statistics.ts";

/** A signal's references: values measured on texts known to belong, and where they came from. */
export interface References {
  readonly source: "seeds" | "accepted" | "night" | "none";
  readonly values: ReadonlyArray<number>;
}


/** Where a value stands against its references: median and robust spread (never below `minSpread`). */
export const calibrate = (value: number, refs: References, minSpread: number): typeof Calibration.Type => ({
  source: refs.source,
  references: refs.values.length,
  median: median(refs.values),
  spread: Math.max(minSpread, robustSpread(refs.values)),
  value,
});

/** (value - median) / spread: how many robust spreads above the references. */
export const zOf = (c: typeof Calibration.Type): number => (c.references === 0 ? 0 : (c.value - c.median) / c.spread);

/** A satellite's similarity against its members' at birth (their cohesion): source "members". */
export const satelliteCalibration = (cohesion: Cohesion, value: number, minSpread: number): typeof Calibration.Type => ({
  source: "members",
  references: cohesion.members,
  median: cohesion.median,
  spread: Math.max(minSpread, cohesion.spread),
  value,
});
