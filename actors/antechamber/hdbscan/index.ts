import { availableParallelism } from "node:os";
import { clusterFacts, type ClusterFacts } from "./clusters.ts";
import { condenseTree } from "./condense.ts";
import { coreKeys } from "./core.ts";
import { labelPoints, outlierScores } from "./label.ts";
import { singleLinkage, type SpanningTree } from "./linkage.ts";
import { primTree } from "./prim.ts";
import { selectClusters } from "./select.ts";
import { scalarSpace, type Metric, type Space } from "./space.ts";
import { simdSpace } from "./wasm/space.ts";

export type { Metric } from "./space.ts";
export { adjustedRandIndex } from "./ari.ts";

/** Parameters, named and defaulted as scikit-learn's `HDBSCAN`. */
export interface HdbscanOptions {
  /** Smallest group that counts as a cluster (>= 2). */
  readonly minClusterSize: number;
  /** Neighbourhood size for core distances, counting the point itself; defaults to minClusterSize. */
  readonly minSamples?: number;
  /** "euclidean" (default) or "cosine" (1 - cosine similarity). */
  readonly metric?: Metric;
  /** "eom" (excess of mass, default) or "leaf". */
  readonly clusterSelectionMethod?: "eom" | "leaf";
  /** Whether the root may be the only cluster (default false). */
  readonly allowSingleCluster?: boolean;
  /** Clusters split below this distance are merged back (default 0: off). */
  readonly clusterSelectionEpsilon?: number;
  /** Distance kernels: "auto" (default) picks WebAssembly SIMD for dim >= 16, "scalar" forces float64 loops. */
  readonly kernel?: "auto" | "scalar" | "simd";
  /** Threads for the SIMD kernels, 1 or 2; by default 2 on large inputs where two cores exist. */
  readonly threads?: number;
}

/** One selected cluster. */
export interface HdbscanCluster {
  readonly label: number;
  /** Points labelled with this cluster. */
  readonly size: number;
  /** Its persistence in the condensed tree (scikit-learn's stability, before selection). */
  readonly stability: number;
  /** Density (1 / distance) at which it split off its parent; 0 for the root. */
  readonly lambdaBirth: number;
  readonly members: Int32Array;
}

export interface HdbscanResult {
  /** Cluster label of each point, -1 for noise. */
  readonly labels: Int32Array;
  /** Membership strength in [0, 1], as scikit-learn's `probabilities_`; 0 for noise. */
  readonly probabilities: Float64Array;
  /** GLOSH outlier score in [0, 1]; higher is more outlying. */
  readonly outlierScores: Float64Array;
  readonly clusters: HdbscanCluster[];
}

/**
 * HDBSCAN (Campello, Moulavi & Sander 2013; McInnes et al. 2017) with scikit-learn's semantics:
 * core distances from k nearest neighbours, Prim's tree of the mutual-reachability graph, single
 * linkage, the condensed tree, excess-of-mass or leaf selection, probabilities and GLOSH scores.
 *
 * @param points row-major float32, n x dim
 */
export const hdbscan = (points: Float32Array, n: number, dim: number, options: HdbscanOptions): HdbscanResult => {
  const o = normalise(options, points, n, dim);
  if (n < o.minClusterSize) return allNoise(n);
  const space = pickSpace(points, n, dim, o);
  let tree: SpanningTree;
  try {
    const core = coreKeys(space, o.minSamples);
    tree = primTree(space, core);
    for (let e = 0; e < tree.weight.length; e++) tree.weight[e] = space.distance(tree.weight[e]!);
  } finally {
    space.dispose();
  }
  const condensed = condenseTree(singleLinkage(tree, n), o.minClusterSize);
  const facts = clusterFacts(condensed);
  const selection = { method: o.clusterSelectionMethod, allowSingleCluster: o.allowSingleCluster, epsilon: o.clusterSelectionEpsilon };
  const selected = selectClusters(facts, selection);
  const { labels, probabilities } = labelPoints(condensed, facts, selected, selection);
  return { labels, probabilities, outlierScores: outlierScores(condensed, facts), clusters: describe(labels, facts, selected) };
};

const normalise = (options: HdbscanOptions, points: Float32Array, n: number, dim: number) => {
  const o = {
    minClusterSize: options.minClusterSize,
    minSamples: options.minSamples ?? options.minClusterSize,
    metric: options.metric ?? "euclidean",
    clusterSelectionMethod: options.clusterSelectionMethod ?? "eom",
    allowSingleCluster: options.allowSingleCluster ?? false,
    clusterSelectionEpsilon: options.clusterSelectionEpsilon ?? 0,
    kernel: options.kernel ?? "auto",
    // A helper thread costs tens of milliseconds to start: worth it from about a second of work.
    threads: options.threads ?? (n * dim >= PARALLEL_WORK && availableParallelism() > 1 ? 2 : 1),
  } as const;
  if (!Number.isInteger(o.minClusterSize) || o.minClusterSize < 2) throw new RangeError("minClusterSize must be an integer >= 2");
  if (!Number.isInteger(o.minSamples) || o.minSamples < 1) throw new RangeError("minSamples must be an integer >= 1");
  if (!(o.clusterSelectionEpsilon >= 0)) throw new RangeError("clusterSelectionEpsilon must be >= 0");
  if (!Number.isInteger(n) || !Number.isInteger(dim) || n < 0 || dim < 1 || points.length < n * dim) {
    throw new RangeError(`points must hold n x dim = ${n} x ${dim} values`);
  }
  // scikit-learn refuses this too; with n < minClusterSize the answer is all noise before it matters.
  if (n >= o.minClusterSize && o.minSamples > n) throw new RangeError(`minSamples (${o.minSamples}) exceeds n (${n})`);
  return o;
};

const PARALLEL_WORK = 2_000_000;

const pickSpace = (points: Float32Array, n: number, dim: number, o: { metric: Metric; kernel: string; threads: number }): Space => {
  const simd = o.kernel === "simd" || (o.kernel === "auto" && dim >= 16);
  return (simd && simdSpace(points, n, dim, o.metric, o.threads)) || scalarSpace(points, n, dim, o.metric);
};

const allNoise = (n: number): HdbscanResult => ({
  labels: new Int32Array(n).fill(-1),
  probabilities: new Float64Array(n),
  outlierScores: new Float64Array(n),
  clusters: [],
});

const describe = (labels: Int32Array, facts: ClusterFacts, selected: readonly number[]): HdbscanCluster[] => {
  const members: number[][] = selected.map(() => []);
  labels.forEach((label, point) => label >= 0 && members[label]!.push(point));
  return selected.map((c, label) => ({
    label,
    size: members[label]!.length,
    stability: facts.stability[c]!,
    lambdaBirth: facts.birth[c]!,
    members: Int32Array.from(members[label]!),
  }));
};
