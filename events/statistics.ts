/** Robust statistics shared by the actors and the projections. */

export const median = (xs: ReadonlyArray<number>): number => {
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
