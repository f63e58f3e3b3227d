import type { SpanningTree } from "./linkage.ts";
import type { Space } from "./space.ts";

/**
 * Minimum spanning tree of the mutual-reachability graph, max(core_a, core_b, key(a, b)), by Prim's
 * algorithm from point 0 with distances computed on the fly: O(n) memory, never an n x n matrix.
 * Ties go as in scikit-learn's `mst_from_data_matrix`: the lowest index wins and an equal
 * reachability keeps its earlier source.
 *
 * Two facts prune most distance computations. A point's reachability can never fall below its own
 * core key, so once it reaches it the point is settled and leaves the scan; and no point whose
 * reachability is already <= max(core_current, core_point) can improve.
 */
export const primTree = (space: Space, core: Float64Array): SpanningTree => {
  const { n } = space;
  const best = new Float64Array(n).fill(Infinity);
  const source = new Int32Array(n);
  const inTree = new Uint8Array(n);
  const queue = new MinTree(n);
  // Points still outside the tree whose reachability can still drop, in ascending order.
  const active = new Int32Array(n);
  const candidates = space.gatherInput;
  let activeCount = 0;
  for (let j = 1; j < n; j++) active[activeCount++] = j;
  const edges = { from: new Int32Array(Math.max(0, n - 1)), to: new Int32Array(Math.max(0, n - 1)), weight: new Float64Array(Math.max(0, n - 1)) };
  let current = 0;
  for (let step = 0; step < n - 1; step++) {
    inTree[current] = 1;
    const reach = core[current]!;
    let count = 0;
    let kept = 0;
    for (let t = 0; t < activeCount; t++) {
      const j = active[t]!;
      if (inTree[j] || best[j]! <= core[j]!) continue;
      active[kept++] = j;
      if ((reach > core[j]! ? reach : core[j]!) < best[j]!) candidates[count++] = j;
    }
    activeCount = kept;
    const keys = space.gather(current, count);
    for (let t = 0; t < count; t++) {
      const j = candidates[t]!;
      let r = keys[t]!;
      if (r < reach) r = reach;
      if (r < core[j]!) r = core[j]!;
      if (r < best[j]!) {
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

/** A tournament tree over n slots: O(log n) updates, the smallest value (lowest index on ties) at the top. */
class MinTree {
  private readonly size: number;
  private readonly value: Float64Array;
  private readonly index: Int32Array;

  constructor(n: number) {
    let size = 1;
    while (size < n) size *= 2;
    this.size = size;
    this.value = new Float64Array(2 * size).fill(Infinity);
    this.index = new Int32Array(2 * size);
    for (let i = 0; i < size; i++) this.index[size + i] = i;
    for (let v = size - 1; v >= 1; v--) this.index[v] = this.index[2 * v]!;
  }

  set(i: number, value: number): void {
    let v = this.size + i;
    this.value[v] = value;
    for (v >>= 1; v >= 1; v >>= 1) {
      const l = 2 * v;
      const pick = this.value[l + 1]! < this.value[l]! ? l + 1 : l;
      this.value[v] = this.value[pick]!;
      this.index[v] = this.index[pick]!;
    }
  }

  argmin(): number {
    return this.index[1]!;
  }
}
