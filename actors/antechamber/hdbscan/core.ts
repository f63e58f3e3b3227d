import { BLOCK, type Space } from "./space.ts";

/**
 * Core distances as keys: for each point, the key of its `minSamples`-th nearest point counting
 * itself (scikit-learn's convention, so minSamples = 1 gives 0).
 *
 * One blocked pass over the upper triangle feeds each pair to both points' bounded max-heaps, so
 * every distance is computed once and memory stays O(n x minSamples).
 */
export const coreKeys = (space: Space, minSamples: number): Float64Array => {
  const { n } = space;
  const m = minSamples - 1;
  const core = new Float64Array(n);
  if (m <= 0) return core;
  const heaps = new Float64Array(n * m).fill(Infinity);
  // The heap tops, kept apart so the hot loop reads one array.
  const worst = new Float64Array(n).fill(Infinity);
  for (let i0 = 0; i0 < n; i0 += BLOCK) {
    const i1 = Math.min(n, i0 + BLOCK);
    for (let j0 = i0; j0 < n; j0 += BLOCK) {
      const j1 = Math.min(n, j0 + BLOCK);
      const keys = space.block(i0, i1, j0, j1);
      offerBlock(keys, i0, i1, j0, j1, heaps, worst, m);
    }
  }
  for (let i = 0; i < n; i++) core[i] = heaps[i * m]!;
  return core;
};

const offerBlock = (
  keys: Float32Array | Float64Array,
  i0: number,
  i1: number,
  j0: number,
  j1: number,
  heaps: Float64Array,
  worst: Float64Array,
  m: number,
): void => {
  for (let i = i0; i < i1; i++) {
    const row = (i - i0) * BLOCK - j0;
    // On the diagonal block only the pairs above the diagonal are new.
    for (let j = i0 === j0 ? i + 1 : j0; j < j1; j++) {
      const key = keys[row + j]!;
      if (key < worst[i]!) worst[i] = pushBounded(heaps, i * m, m, key);
      if (key < worst[j]!) worst[j] = pushBounded(heaps, j * m, m, key);
    }
  }
};

/** Replaces the top of a full max-heap of size m with `key`; returns the new top. */
const pushBounded = (heap: Float64Array, base: number, m: number, key: number): number => {
  let at = 0;
  for (;;) {
    const l = 2 * at + 1;
    if (l >= m) break;
    const r = l + 1;
    const big = r < m && heap[base + r]! > heap[base + l]! ? r : l;
    if (heap[base + big]! <= key) break;
    heap[base + at] = heap[base + big]!;
    at = big;
  }
  heap[base + at] = key;
  return heap[base]!;
};
