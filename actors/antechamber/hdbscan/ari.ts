/**
 * Adjusted Rand index (Hubert & Arabie 1985) between two labellings of the same points, as
 * scikit-learn's `adjusted_rand_score`: every distinct label, noise (-1) included, is one group.
 * 1 means identical partitions up to renaming, about 0 means chance agreement.
 */
export const adjustedRandIndex = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  if (a.length !== b.length) throw new RangeError("labellings differ in length");
  const n = a.length;
  const rowOf = dense(a);
  const colOf = dense(b);
  const table = new Map<number, number>();
  const rows = new Float64Array(rowOf.count);
  const cols = new Float64Array(colOf.count);
  for (let i = 0; i < n; i++) {
    const r = rowOf.ids[i]!;
    const c = colOf.ids[i]!;
    const cell = r * colOf.count + c;
    table.set(cell, (table.get(cell) ?? 0) + 1);
    rows[r]++;
    cols[c]++;
  }
  let index = 0;
  for (const count of table.values()) index += pairs(count);
  let sumRows = 0;
  for (const count of rows) sumRows += pairs(count);
  let sumCols = 0;
  for (const count of cols) sumCols += pairs(count);
  const expected = (sumRows * sumCols) / pairs(n);
  const max = (sumRows + sumCols) / 2;
  // Both partitions trivial (one group each, or all singletons): scikit-learn calls that a match.
  if (max === expected) return 1;
  return (index - expected) / (max - expected);
};

const pairs = (k: number): number => (k * (k - 1)) / 2;

const dense = (labels: ArrayLike<number>): { ids: Int32Array; count: number } => {
  const seen = new Map<number, number>();
  const ids = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    let id = seen.get(label);
    if (id === undefined) seen.set(label, (id = seen.size));
    ids[i] = id;
  }
  return { ids, count: seen.size };
};
