import type { ClusterFacts } from "./clusters.ts";
import type { CondensedTree } from "./condense.ts";

/** Labels (-1 for noise) and membership probabilities of every point. */
export interface Membership {
  readonly labels: Int32Array;
  readonly probabilities: Float64Array;
}

/**
 * Labels points by their nearest selected ancestor cluster and scores their membership, following
 * scikit-learn's `do_labelling` and `get_probabilities`. `selected` holds cluster indices in label
 * order.
 */
export const labelPoints = (
  tree: CondensedTree,
  facts: ClusterFacts,
  selected: readonly number[],
  options: { readonly allowSingleCluster: boolean; readonly epsilon: number },
): Membership => {
  const { n } = tree;
  const labelOf = new Int32Array(facts.count).fill(-1);
  selected.forEach((c, label) => (labelOf[c] = label));
  // Ascending indices visit parents first, so each cluster inherits its nearest selected ancestor.
  const owner = new Int32Array(facts.count).fill(-1);
  for (let c = 0; c < facts.count; c++) {
    owner[c] = labelOf[c]! >= 0 ? c : c === 0 ? -1 : owner[facts.parent[c]!]!;
  }
  const labels = new Int32Array(n).fill(-1);
  const probabilities = new Float64Array(n);
  const rootAlone = selected.length === 1 && selected[0] === 0 && options.allowSingleCluster;
  const rootFloor = options.epsilon !== 0 ? 1 / options.epsilon : facts.death[0]!;
  for (let r = 0; r < tree.rows; r++) {
    const point = tree.child[r]!;
    if (point >= n) continue;
    const cluster = owner[tree.parent[r]! - n]!;
    const lambda = tree.lambda[r]!;
    if (cluster < 0) continue;
    // The root only keeps the points that stay to its last split, as in scikit-learn.
    if (cluster === 0 && !(rootAlone && lambda >= rootFloor)) continue;
    labels[point] = labelOf[cluster]!;
    probabilities[point] = membershipStrength(lambda, facts.death[cluster]!);
  }
  return { labels, probabilities };
};

const membershipStrength = (lambda: number, maxLambda: number): number => {
  if (maxLambda === 0 || !Number.isFinite(lambda)) return 1;
  return Math.min(lambda, maxLambda) / maxLambda;
};

/**
 * GLOSH outlier scores (Campello et al. 2015): 1 - lambda(x) / lambda_max(C), where C is the
 * cluster x drops out of and lambda_max(C) the largest lambda of any point in C's subtree.
 */
export const outlierScores = (tree: CondensedTree, facts: ClusterFacts): Float64Array => {
  const { n } = tree;
  const deepest = Float64Array.from(facts.death);
  // Descending indices visit children first, so each cluster gathers its whole subtree.
  for (let c = facts.count - 1; c > 0; c--) {
    const p = facts.parent[c]!;
    if (deepest[c]! > deepest[p]!) deepest[p] = deepest[c]!;
  }
  const scores = new Float64Array(n);
  for (let r = 0; r < tree.rows; r++) {
    const point = tree.child[r]!;
    if (point >= n) continue;
    const lambda = tree.lambda[r]!;
    const max = deepest[tree.parent[r]! - n]!;
    if (max === 0 || !Number.isFinite(lambda)) scores[point] = 0;
    else scores[point] = Number.isFinite(max) ? (max - lambda) / max : 1;
  }
  return scores;
};
