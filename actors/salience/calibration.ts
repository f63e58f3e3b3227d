import type { Calibration } from "../../events/salience.ts";

/** A signal's references: values measured on texts known to belong, and where they came from. */
export interface References {
  readonly source: "seeds" | "accepted" | "night" | "none";
  readonly values: ReadonlyArray<number>;
}

const median = (xs: ReadonlyArray<number>): number => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** 1.4826 x the median absolute deviation: the standard deviation of a normal sample, robust to outliers. */
export const robustSpread = (xs: ReadonlyArray<number>): number => {
  const m = median(xs);
  return 1.4826 * median(xs.map((x) => Math.abs(x - m)));
};

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
