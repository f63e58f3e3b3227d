/** Small vector helpers for question vectors (L2-normalised, as plain number arrays in events). */

export const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

export const norm = (a: ArrayLike<number>): number => Math.sqrt(dot(a, a));

export const normalised = (a: ArrayLike<number>): number[] => {
  const n = norm(a);
  return Array.from(a, (x) => (n > 0 ? x / n : 0));
};

/** Cosine similarity; 0 when either vector is zero. */
export const cosine = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  const d = norm(a) * norm(b);
  return d > 0 ? dot(a, b) / d : 0;
};

/** Moves a unit centroid towards a vector by a fraction `rate`, and renormalises. */
export const driftTowards = (centroid: ArrayLike<number>, v: ArrayLike<number>, rate: number): number[] =>
  normalised(Array.from(centroid, (c, i) => (1 - rate) * c + rate * v[i]!));
