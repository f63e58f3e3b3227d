import type { Dendrogram } from "./linkage.ts";

/**
 * The condensed tree: row r says `child[r]` (a point below n, a cluster at n and above) leaves
 * cluster `parent[r]` at density `lambda[r]` (1 / distance) with `childSize[r]` points. The root
 * cluster is n; a child cluster's id is always greater than its parent's, so ascending ids are a
 * topological order.
 */
export interface CondensedTree {
  readonly n: number;
  readonly parent: Int32Array;
  readonly child: Int32Array;
  readonly lambda: Float64Array;
  readonly childSize: Int32Array;
  /** Number of rows in use. */
  readonly rows: number;
  /** Clusters are n .. n + clusterCount - 1. */
  readonly clusterCount: number;
}

interface Builder {
  parent: Int32Array;
  child: Int32Array;
  lambda: Float64Array;
  childSize: Int32Array;
  rows: number;
}

/**
 * Condenses a dendrogram by `minClusterSize` the way scikit-learn's `_condense_tree` does: a split
 * where both sides hold at least minClusterSize points gives birth to two clusters; a smaller side
 * drops out of the parent point by point at the split's lambda, and the larger side carries on as
 * the parent. Internal nodes are visited by descending id, which is top-down.
 */
export const condenseTree = (tree: Dendrogram, minClusterSize: number): CondensedTree => {
  const { n } = tree;
  const top = 2 * n - 2;
  const relabel = new Int32Array(top + 1);
  const ignore = new Uint8Array(top + 1);
  const rowsMax = 2 * n;
  const out: Builder = {
    parent: new Int32Array(rowsMax),
    child: new Int32Array(rowsMax),
    lambda: new Float64Array(rowsMax),
    childSize: new Int32Array(rowsMax),
    rows: 0,
  };
  relabel[top] = n;
  let nextLabel = n + 1;
  const sizeOf = (node: number): number => (node < n ? 1 : tree.size[node - n]!);
  for (let node = top; node >= n; node--) {
    if (ignore[node]) continue;
    const m = node - n;
    const left = tree.left[m]!;
    const right = tree.right[m]!;
    const d = tree.distance[m]!;
    const lambda = d > 0 ? 1 / d : Infinity;
    const own = relabel[node]!;
    const leftBig = sizeOf(left) >= minClusterSize;
    const rightBig = sizeOf(right) >= minClusterSize;
    if (leftBig && rightBig) {
      relabel[left] = nextLabel++;
      push(out, own, relabel[left]!, lambda, sizeOf(left));
      relabel[right] = nextLabel++;
      push(out, own, relabel[right]!, lambda, sizeOf(right));
    } else {
      if (leftBig) relabel[left] = own;
      else dropOut(tree, left, own, lambda, ignore, out);
      if (rightBig) relabel[right] = own;
      else dropOut(tree, right, own, lambda, ignore, out);
    }
  }
  return { n, ...out, clusterCount: nextLabel - n };
};

const push = (out: Builder, parent: number, child: number, lambda: number, size: number): void => {
  const r = out.rows++;
  out.parent[r] = parent;
  out.child[r] = child;
  out.lambda[r] = lambda;
  out.childSize[r] = size;
};

/** Every point under `node` leaves `cluster` at `lambda`; the subtree is never visited again. */
const dropOut = (
  tree: Dendrogram,
  node: number,
  cluster: number,
  lambda: number,
  ignore: Uint8Array,
  out: Builder,
): void => {
  const { n } = tree;
  const stack = [node];
  while (stack.length > 0) {
    const x = stack.pop()!;
    ignore[x] = 1;
    if (x < n) {
      push(out, cluster, x, lambda, 1);
    } else {
      stack.push(tree.left[x - n]!, tree.right[x - n]!);
    }
  }
};
