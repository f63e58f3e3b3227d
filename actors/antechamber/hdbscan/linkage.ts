/** A spanning tree of the mutual-reachability graph: edge e joins `from[e]` and `to[e]`. */
export interface SpanningTree {
  readonly from: Int32Array;
  readonly to: Int32Array;
  /** Mutual-reachability distance of each edge. */
  readonly weight: Float64Array;
}

/**
 * A single-linkage dendrogram in scipy's layout: merge `m` creates node `n + m` from `left[m]` and
 * `right[m]` (point ids below n, earlier merges at n and above) at `distance[m]`, holding `size[m]`
 * points.
 */
export interface Dendrogram {
  readonly n: number;
  readonly left: Int32Array;
  readonly right: Int32Array;
  readonly distance: Float64Array;
  readonly size: Int32Array;
}

/**
 * Orders the spanning tree's edges by weight and merges them with a union-find, as scikit-learn's
 * `make_single_linkage` does. Ties keep Prim's order (a stable sort), the closest deterministic
 * stand-in for numpy's unstable argsort.
 */
export const singleLinkage = (tree: SpanningTree, n: number): Dendrogram => {
  const m = n - 1;
  const order = stableOrder(tree.weight);
  const left = new Int32Array(m);
  const right = new Int32Array(m);
  const distance = new Float64Array(m);
  const size = new Int32Array(m);
  const parent = new Int32Array(2 * n - 1).fill(-1);
  const count = new Int32Array(2 * n - 1).fill(1);
  for (let step = 0; step < m; step++) {
    const e = order[step]!;
    const a = findRoot(parent, tree.from[e]!);
    const b = findRoot(parent, tree.to[e]!);
    const node = n + step;
    left[step] = a;
    right[step] = b;
    distance[step] = tree.weight[e]!;
    size[step] = count[a]! + count[b]!;
    count[node] = size[step]!;
    parent[a] = node;
    parent[b] = node;
  }
  return { n, left, right, distance, size };
};

const stableOrder = (weight: Float64Array): Uint32Array => {
  const order = new Uint32Array(weight.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  // NaN never occurs: weights are maxima of finite distances.
  return order.sort((a, b) => weight[a]! - weight[b]! || a - b);
};

const findRoot = (parent: Int32Array, x: number): number => {
  let root = x;
  while (parent[root]! !== -1) root = parent[root]!;
  // Path compression keeps the whole linkage near-linear.
  while (parent[x]! !== -1 && parent[x] !== root) {
    const next = parent[x]!;
    parent[x] = root;
    x = next;
  }
  return root;
};
