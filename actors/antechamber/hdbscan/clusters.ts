import type { CondensedTree } from "./condense.ts";

/** Per-cluster facts of a condensed tree, indexed by `cluster - n` (the root is index 0). */
export interface ClusterFacts {
  readonly count: number;
  /** Lambda at which the cluster split off its parent; 0 for the root. */
  readonly birth: Float64Array;
  /** scikit-learn's stability: the sum over rows of (lambda - birth) x size. */
  readonly stability: Float64Array;
  /** Largest lambda among the cluster's own rows (scikit-learn's `max_lambdas`). */
  readonly death: Float64Array;
  /** Index of the parent cluster; -1 for the root. */
  readonly parent: Int32Array;
  /** Points in the cluster when it was born. */
  readonly size: Int32Array;
  /** Child clusters of each cluster. */
  readonly children: ReadonlyArray<readonly number[]>;
}

/** Gathers births, stabilities, deaths and the cluster hierarchy from the condensed tree. */
export const clusterFacts = (tree: CondensedTree): ClusterFacts => {
  const { n, rows, clusterCount: count } = tree;
  const birth = new Float64Array(count);
  const stability = new Float64Array(count);
  const death = new Float64Array(count);
  const parent = new Int32Array(count).fill(-1);
  const size = new Int32Array(count);
  const children: number[][] = Array.from({ length: count }, () => []);
  size[0] = n;
  for (let r = 0; r < rows; r++) {
    const c = tree.child[r]!;
    if (c < n) continue;
    const p = tree.parent[r]! - n;
    birth[c - n] = tree.lambda[r]!;
    parent[c - n] = p;
    size[c - n] = tree.childSize[r]!;
    children[p]!.push(c - n);
  }
  for (let r = 0; r < rows; r++) {
    const p = tree.parent[r]! - n;
    const lambda = tree.lambda[r]!;
    stability[p] += (lambda - birth[p]!) * tree.childSize[r]!;
    if (lambda > death[p]!) death[p] = lambda;
  }
  return { count, birth, stability, death, parent, size, children };
};

/** Indices of all clusters below `c` (not `c` itself). */
export const descendants = (facts: ClusterFacts, c: number): number[] => {
  const out: number[] = [];
  const stack = [...facts.children[c]!];
  while (stack.length > 0) {
    const x = stack.pop()!;
    out.push(x);
    stack.push(...facts.children[x]!);
  }
  return out;
};
