import { prng } from "../../adapters/llm/tiny/corpusgen/generate.ts";

/** A seeded source of test data: the same seed gives the same inputs on every machine and run. */
export interface Random {
  /** In [0, 1). */
  next(): number;
  /** A whole number in [lo, hi]. */
  int(lo: number, hi: number): number;
  pick<T>(xs: ReadonlyArray<T>): T;
  chance(p: number): boolean;
  bytes(n: number): Buffer;
}

export const seeded = (seed: number): Random => {
  const next = prng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  return {
    next,
    int,
    pick: (xs) => xs[int(0, xs.length - 1)]!,
    chance: (p) => next() < p,
    bytes: (n) => {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = int(0, 255);
      return b;
    },
  };
};
