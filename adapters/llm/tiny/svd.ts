/** A sparse symmetric-use matrix in compressed rows. */
export interface SparseRows {
  readonly n: number;
  readonly rowStart: Int32Array;
  readonly col: Int32Array;
  readonly val: Float64Array;
}

/** y = M x for a dense block x of k columns stored row-major [n][k]. */
const multiply = (m: SparseRows, x: Float64Array, k: number): Float64Array => {
  const y = new Float64Array(m.n * k);
  for (let r = 0; r < m.n; r++) {
    for (let p = m.rowStart[r]!; p < m.rowStart[r + 1]!; p++) {
      const v = m.val[p]!, c = m.col[p]!;
      for (let j = 0; j < k; j++) y[r * k + j]! += v * x[c * k + j]!;
    }
  }
  return y;
};

/** Modified Gram-Schmidt on the k columns of a row-major [n][k] block, in place. */
const orthonormalise = (x: Float64Array, n: number, k: number): void => {
  for (let j = 0; j < k; j++) {
    for (let i = 0; i < j; i++) {
      let dot = 0;
      for (let r = 0; r < n; r++) dot += x[r * k + i]! * x[r * k + j]!;
      for (let r = 0; r < n; r++) x[r * k + j]! -= dot * x[r * k + i]!;
    }
    let norm = 0;
    for (let r = 0; r < n; r++) norm += x[r * k + j]! ** 2;
    norm = Math.sqrt(norm) || 1;
    for (let r = 0; r < n; r++) x[r * k + j]! /= norm;
  }
};

/**
 * Top-k eigenpairs of a symmetric matrix by subspace iteration on M² (so large negative
 * eigenvalues count by magnitude, as in an SVD); deterministic from `rand`. Returns the
 * vectors row-major [n][k] and the singular values, largest first.
 */
export const topSingular = (m: SparseRows, k: number, iterations: number, rand: () => number): { vectors: Float64Array; values: Float64Array } => {
  let q: Float64Array = new Float64Array(m.n * k).map(() => rand() - 0.5);
  orthonormalise(q, m.n, k);
  for (let it = 0; it < iterations; it++) {
    q = multiply(m, multiply(m, q, k), k);
    orthonormalise(q, m.n, k);
  }
  // Rayleigh-Ritz would rotate within the subspace; singular values from |M q_j| are enough here.
  const mq = multiply(m, q, k);
  const values = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    let s = 0;
    for (let r = 0; r < m.n; r++) s += mq[r * k + j]! ** 2;
    values[j] = Math.sqrt(s);
  }
  return { vectors: q, values };
};
