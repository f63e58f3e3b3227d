/** The metrics HDBSCAN supports, with scikit-learn's definitions. */
export type Metric = "euclidean" | "cosine";

/**
 * Distances between the rows of a data set, expressed as keys: any number that rises with the
 * distance (squared euclidean, or cosine distance itself), so comparisons need no square roots.
 */
export interface Space {
  readonly n: number;
  /** Per-point bounds `nearPairs` filters by; callers keep them current (they only ever fall). */
  readonly bound: Float32Array | Float64Array;
  /**
   * The pairs i < j of rows i0..i1 x j0..j1 (at most BLOCK each) whose key is below bound[i] or
   * bound[j]; a few more are harmless.
   */
  nearPairs(i0: number, i1: number, j0: number, j1: number): PairList;
  /** Starts another `nearPairs` (on a helper thread where there is one) while the caller works on. */
  startNearPairs(i0: number, i1: number, j0: number, j1: number): void;
  /** Waits for the pairs `startNearPairs` began. */
  finishNearPairs(): PairList;
  /** Where callers list the row ids `rows` reads: up to BATCH ids. */
  readonly batchInput: Int32Array;
  /** Where callers list the column ids `rows` reads: room for n ids. */
  readonly columnInput: Int32Array;
  /** Row stride of the cache `rows` fills (at least n). */
  readonly cacheWidth: number;
  /**
   * Keys from each listed row (slot s = its position in batchInput) to each listed column c, at
   * cache[s * cacheWidth + c]; other cache entries are left as they were.
   */
  rows(batchCount: number, columnCount: number): Float32Array | Float64Array;
  /** The distance a key stands for. */
  distance(key: number): number;
  /** Returns any memory or threads the space holds. */
  dispose(): void;
}

/** Pairs from `nearPairs`: pair t joins ids[3t] and ids[3t + 1] at key keys[3t + 2]. */
export interface PairList {
  readonly count: number;
  readonly ids: Int32Array;
  readonly keys: Float32Array | Float64Array;
}

/** The largest block `nearPairs` is asked for, in rows per side. */
export const BLOCK = 128;
/** The most rows `rows` computes at once. */
export const BATCH = 32;

/** Rows as float64, L2-normalised for the cosine metric (a zero row stays zero, as in scikit-learn). */
export const rowsAsFloat64 = (points: Float32Array, n: number, dim: number, metric: Metric): Float64Array => {
  const rows = Float64Array.from(points.subarray(0, n * dim));
  if (metric === "cosine") {
    for (let i = 0; i < n; i++) {
      let sq = 0;
      for (let d = 0; d < dim; d++) sq += rows[i * dim + d]! ** 2;
      const scale = sq > 0 ? 1 / Math.sqrt(sq) : 0;
      for (let d = 0; d < dim; d++) rows[i * dim + d]! *= scale;
    }
  }
  return rows;
};

/**
 * Exact float64 distances computed in plain loops: the reference path, used for low dimensions
 * (where it is fast and avoids the cancellation of dot-product forms) and as the fallback.
 */
export const scalarSpace = (points: Float32Array, n: number, dim: number, metric: Metric): Space => {
  const rows = rowsAsFloat64(points, n, dim, metric);
  const key = metric === "euclidean" ? squaredEuclidean(rows, dim) : cosineDistance(rows, dim);
  const bound = new Float64Array(n).fill(Infinity);
  const lists = [0, 1].map(() => ({ count: 0, ids: new Int32Array(3 * BLOCK * BLOCK), keys: new Float64Array(3 * BLOCK * BLOCK) }));
  const near = (list: (typeof lists)[number], i0: number, i1: number, j0: number, j1: number): PairList => {
    list.count = 0;
    for (let i = i0; i < i1; i++) {
      for (let j = Math.max(j0, i + 1); j < j1; j++) {
        const k = key(i, j);
        if (k >= bound[i]! && k >= bound[j]!) continue;
        list.ids[3 * list.count] = i;
        list.ids[3 * list.count + 1] = j;
        list.keys[3 * list.count++ + 2] = k;
      }
    }
    return list;
  };
  const batchInput = new Int32Array(BATCH);
  const columnInput = new Int32Array(n);
  const cache = new Float64Array(BATCH * n);
  return {
    n,
    bound,
    nearPairs: (i0, i1, j0, j1) => near(lists[0]!, i0, i1, j0, j1),
    startNearPairs: (i0, i1, j0, j1) => void near(lists[1]!, i0, i1, j0, j1),
    finishNearPairs: () => lists[1]!,
    batchInput,
    columnInput,
    cacheWidth: n,
    rows(batchCount, columnCount) {
      for (let s = 0; s < batchCount; s++) {
        const row = batchInput[s]!;
        for (let t = 0; t < columnCount; t++) cache[s * n + columnInput[t]!] = key(row, columnInput[t]!);
      }
      return cache;
    },
    distance: metric === "euclidean" ? Math.sqrt : (k) => k,
    dispose() {},
  };
};

const squaredEuclidean = (rows: Float64Array, dim: number) => (i: number, j: number): number => {
  let sum = 0;
  const a = i * dim;
  const b = j * dim;
  for (let d = 0; d < dim; d++) {
    const diff = rows[a + d]! - rows[b + d]!;
    sum += diff * diff;
  }
  return sum;
};

const cosineDistance = (rows: Float64Array, dim: number) => (i: number, j: number): number => {
  let dot = 0;
  const a = i * dim;
  const b = j * dim;
  for (let d = 0; d < dim; d++) dot += rows[a + d]! * rows[b + d]!;
  // scikit-learn clips cosine distances to [0, 2].
  return Math.min(2, Math.max(0, 1 - dot));
};
