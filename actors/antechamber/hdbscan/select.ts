import { descendants, type ClusterFacts } from "./clusters.ts";

/** How flat clusters are chosen from the condensed tree (scikit-learn's parameters). */
export interface SelectionOptions {
  readonly method: "eom" | "leaf";
  readonly allowSingleCluster: boolean;
  readonly epsilon: number;
}

/**
 * Chooses the flat clusters, mirroring scikit-learn's `_get_clusters`, and returns their indices
 * (cluster - n) in ascending order, which is also the order of their labels.
 */
export const selectClusters = (facts: ClusterFacts, options: SelectionOptions): number[] => {
  const chosen = options.method === "eom" ? excessOfMass(facts, options) : leafClusters(facts, options);
  return [...chosen].sort((a, b) => a - b);
};

const excessOfMass = (facts: ClusterFacts, options: SelectionOptions): Set<number> => {
  const lowest = options.allowSingleCluster ? 0 : 1;
  const isCluster = new Uint8Array(facts.count);
  const stability = Float64Array.from(facts.stability);
  // Descending indices visit children before their parents.
  for (let c = facts.count - 1; c >= lowest; c--) {
    let subtree = 0;
    for (const child of facts.children[c]!) subtree += stability[child]!;
    if (subtree > stability[c]!) {
      stability[c] = subtree;
    } else {
      isCluster[c] = 1;
      for (const d of descendants(facts, c)) isCluster[d] = 0;
    }
  }
  const eom = new Set<number>();
  for (let c = lowest; c < facts.count; c++) if (isCluster[c]) eom.add(c);
  if (options.epsilon === 0 || facts.count === 1) return eom;
  if (eom.size === 1 && eom.has(0)) return options.allowSingleCluster ? eom : new Set();
  return epsilonSearch(facts, eom, options);
};

const leafClusters = (facts: ClusterFacts, options: SelectionOptions): Set<number> => {
  const leaves = new Set<number>();
  // A root without child clusters is no leaf: scikit-learn then labels everything noise.
  if (facts.count > 1) {
    for (let c = 1; c < facts.count; c++) if (facts.children[c]!.length === 0) leaves.add(c);
  }
  return options.epsilon === 0 ? leaves : epsilonSearch(facts, leaves, options);
};

/**
 * Merges clusters born below `epsilon` (in distance) into their first ancestor born above it, as
 * scikit-learn's `epsilon_search` does.
 */
const epsilonSearch = (facts: ClusterFacts, from: Set<number>, options: SelectionOptions): Set<number> => {
  const selected = new Set<number>();
  const processed = new Set<number>();
  for (const leaf of [...from].sort((a, b) => a - b)) {
    if (1 / facts.birth[leaf]! >= options.epsilon) {
      selected.add(leaf);
    } else if (!processed.has(leaf)) {
      const up = climb(facts, leaf, options);
      selected.add(up);
      for (const d of descendants(facts, up)) processed.add(d);
    }
  }
  return selected;
};

const climb = (facts: ClusterFacts, leaf: number, options: SelectionOptions): number => {
  let node = leaf;
  for (;;) {
    const parent = facts.parent[node]!;
    if (parent === 0) return options.allowSingleCluster ? 0 : node;
    if (1 / facts.birth[parent]! > options.epsilon) return parent;
    node = parent;
  }
};
