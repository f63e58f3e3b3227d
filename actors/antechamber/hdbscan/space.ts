/** The metrics HDBSCAN supports, with scikit-learn's definitions. */
export type Metric = "euclidean" | "cosine";

/**
 * Distances between the rows of a data set, expressed as keys: any number that rises with the
 * distance (squared euclidean, or cosine distance itself), so comparisons need no square roots.
 */
export interface Space {
  readonly n: number;
  /** Keys of rows i0..i1 against rows j0..j1 (at most BLOCK each), row-major with row stride BLOCK. */
  block(i0: number, i1: number, j0: number, j1: number): Float32Array | Float64Array;
  /** Where callers write the row ids `gather` reads: room for n ids. */
  readonly gatherInput: Int32Array;
  /** Keys from row q to the rows listed in gatherInput[0 .. count - 1], in that order. */
  gather(q: number, count: number): Float32Array | Float64Array;
  /** The distance a key stands for. */
  distance(key: number): number;
  /** Returns any memory or threads the space holds. */
  dispose(): void;
}

/** The largest block `block` is asked for, in rows per side. */
export const BLOCK = 128;

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
  const blockOut = new Float64Array(BLOCK * BLOCK);
  const gatherInput = new Int32Array(n);
  const gatherOut = new Float64Array(n);
  return {
    n,
    block(i0, i1, j0, j1) {
      for (let i = i0; i < i1; i++) {
        for (let j = j0; j < j1; j++) blockOut[(i - i0) * BLOCK + (j - j0)] = key(i, j);
      }
      return blockOut;
    },
    gatherInput,
    gather(q, count) {
      for (let t = 0; t < count; t++) gatherOut[t] = key(q, gatherInput[t]!);
      return gatherOut;
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
