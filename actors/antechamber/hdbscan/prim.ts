import type { SpanningTree } from "./linkage.ts";
import { BATCH, type Space } from "./space.ts";
import { MinTree } from "./min-tree.ts";

/**
 * Minimum spanning tree of the mutual-reachability graph, max(core_a, core_b, key(a, b)), by Prim's
 * algorithm from point 0 with distances computed on the fly: O(n) memory, never an n x n matrix.
 * Ties go as in scikit-learn's `mst_from_data_matrix`: the lowest index wins and an equal
 * reachability keeps its earlier source.
 *
 * A row of keys is needed for each point as it joins the tree. Computing them one at a time streams
 * the whole data set from memory per point, so rows come in batches: the point joining now plus
 * the BATCH - 1 outside points with the smallest reachability, which usually join next. Their
 * keys are bitwise the same whichever way they are computed, so batching never changes the tree.
 *
 * A point whose reachability has fallen to its own core key can never improve: it leaves the list
 * of columns to compute.
 */
export const primTree = (space: Space, core: Float64Array): SpanningTree => {
  const { n } = space;
  const best = new Float64Array(n).fill(Infinity);
  const source = new Int32Array(n);
  const queue = new MinTree(n);
  const slot = new Int32Array(n).fill(-1);
  const members: number[] = [];
  // Outside points whose reachability can still drop, ascending: the columns of each batch.
  const columns = space.columnInput;
  let columnCount = 0;
  for (let j = 1; j < n; j++) columns[columnCount++] = j;
  const edges = { from: new Int32Array(Math.max(0, n - 1)), to: new Int32Array(Math.max(0, n - 1)), weight: new Float64Array(Math.max(0, n - 1)) };
  const width = space.cacheWidth;
  let cache: Float32Array | Float64Array = new Float64Array(0);
  let current = 0;
  for (let step = 0; step < n - 1; step++) {
    // -Infinity marks tree members: no reachability can improve on it.
    best[current] = -Infinity;
    if (slot[current]! < 0) {
      columnCount = keepUnsettled(columns, columnCount, best, core);
      pickBatch(space, queue, slot, members, current);
      cache = space.rows(members.length, columnCount);
    }
    const reach = core[current]!;
    const base = slot[current]! * width;
    for (let t = 0; t < columnCount; t++) {
      const j = columns[t]!;
      const bj = best[j]!;
      const cj = core[j]!;
      if ((reach > cj ? reach : cj) >= bj) continue;
      let r = cache[base + j]!;
      if (r < reach) r = reach;
      if (r < cj) r = cj;
      if (r < bj) {
        best[j] = r;
        source[j] = current;
        queue.set(j, r);
      }
    }
    const next = queue.argmin();
    edges.from[step] = source[next]!;
    edges.to[step] = next;
    edges.weight[step] = best[next]!;
    queue.set(next, Infinity);
    current = next;
  }
  return edges;
};

/** Drops points in the tree (best -Infinity) or settled at their core key; keeps ascending order. */
const keepUnsettled = (columns: Int32Array, count: number, best: Float64Array, core: Float64Array): number => {
  let kept = 0;
  for (let t = 0; t < count; t++) {
    const j = columns[t]!;
    if (best[j]! > core[j]!) columns[kept++] = j;
  }
  return kept;
};

/** Picks `current` and the outside points likely to join next as the batch. */
const pickBatch = (space: Space, queue: MinTree, slot: Int32Array, members: number[], current: number): void => {
  for (const old of members) slot[old] = -1;
  members.length = 0;
  members.push(current);
  for (const p of queue.smallest(BATCH - 1)) if (p !== current) members.push(p);
  members.forEach((p, s) => {
    slot[p] = s;
    space.batchInput[s] = p;
  });
};
