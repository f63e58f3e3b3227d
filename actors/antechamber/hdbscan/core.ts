import { BLOCK, type PairList, type Space } from "./space.ts";

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
  // The heap tops double as the space's filter: a pair above both is never listed.
  const worst = space.bound;
  worst.fill(Infinity);
  const tasks = blockTasks(n);
  const offer = (pairs: PairList): void => {
    const { ids, keys } = pairs;
    for (let t = 0; t < pairs.count; t++) {
      const i = ids[3 * t]!;
      const j = ids[3 * t + 1]!;
      const key = keys[3 * t + 2]!;
      if (key < worst[i]!) worst[i] = pushBounded(heaps, i * m, m, key);
      if (key < worst[j]!) worst[j] = pushBounded(heaps, j * m, m, key);
    }
  };
  // Blocks go in pairs: a helper thread computes the second while this one does the first.
  for (let t = 0; t < tasks.length; t += 2) {
    const later = tasks[t + 1];
    if (later) space.startNearPairs(...later);
    offer(space.nearPairs(...tasks[t]!));
    if (later) offer(space.finishNearPairs());
  }
  for (let i = 0; i < n; i++) core[i] = heaps[i * m]!;
  return core;
};

type Task = readonly [i0: number, i1: number, j0: number, j1: number];

/** The blocks of the upper triangle, diagonal included. */
const blockTasks = (n: number): Task[] => {
  const tasks: Task[] = [];
  for (let i0 = 0; i0 < n; i0 += BLOCK) {
    for (let j0 = i0; j0 < n; j0 += BLOCK) tasks.push([i0, Math.min(n, i0 + BLOCK), j0, Math.min(n, j0 + BLOCK)]);
  }
  return tasks;
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
