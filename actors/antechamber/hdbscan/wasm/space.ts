import { BLOCK, rowsAsFloat64, type Metric, type Space } from "../space.ts";
import { GATHER_ROWS, kernelModule, TILE_COLS, TILE_ROWS, UNROLL, type Layout } from "./kernels.ts";

interface Kernels {
  block(a: number, na: number, b: number, nb: number): void;
  gather(q: number, count: number): void;
}

const PAGE = 65536;
const roundUp = (x: number, step: number): number => Math.ceil(x / step) * step;

/**
 * Keys from float32 dot products in WebAssembly SIMD (f32x4), with a module generated for this
 * dimension so every row offset is a constant. Euclidean rows are centred first, which keeps the
 * |a|^2 + |b|^2 - 2 a.b form accurate. Returns null where WebAssembly SIMD is unavailable.
 */
export const simdSpace = (points: Float32Array, n: number, dim: number, metric: Metric): Space | null => {
  const stride = roundUp(dim, 4 * UNROLL) * 4;
  const padded = roundUp(n, 8);
  const layout = planLayout(metric, stride, padded);
  const pages = Math.ceil(layout.end / PAGE);
  if (pages > 65536) return null;
  const bytes = kernelModule(layout, { pages, maxPages: pages, shared: false });
  if (!WebAssembly.validate(bytes)) return null;
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
  const kernels = instance.exports as unknown as Kernels;
  fillRows(memory.buffer, layout, points, n, dim);
  const blockOut = new Float32Array(memory.buffer, layout.blockOut, BLOCK * BLOCK);
  const gatherInput = new Int32Array(memory.buffer, layout.gatherIn, padded + GATHER_ROWS);
  const gatherOut = new Float32Array(memory.buffer, layout.gatherOut, padded + GATHER_ROWS);
  return {
    n,
    block(i0, i1, j0, j1) {
      kernels.block(i0, roundUp(i1 - i0, TILE_ROWS), j0, roundUp(j1 - j0, TILE_COLS));
      return blockOut;
    },
    gatherInput,
    gather(q, count) {
      if (count === 0) return gatherOut;
      // Pad the list to whole passes with a harmless repeat.
      const whole = roundUp(count, GATHER_ROWS);
      for (let t = count; t < whole; t++) gatherInput[t] = gatherInput[0]!;
      kernels.gather(q, whole);
      return gatherOut;
    },
    distance: metric === "euclidean" ? Math.sqrt : (k) => k,
    dispose() {},
  };
};

const planLayout = (metric: Metric, stride: number, padded: number): Layout & { end: number } => {
  const rows = 0;
  const norms = rows + padded * stride;
  const blockOut = roundUp(norms + padded * 4, 16);
  const gatherIn = blockOut + BLOCK * BLOCK * 4;
  const gatherOut = gatherIn + (padded + GATHER_ROWS) * 4;
  const end = gatherOut + (padded + GATHER_ROWS) * 4;
  return { metric, stride, rows, norms, blockOut, blockWidth: BLOCK, gatherIn, gatherOut, end };
};

/** Writes float32 rows (centred for euclidean, unit for cosine) and their squared norms. */
const fillRows = (buffer: ArrayBuffer, layout: Layout, points: Float32Array, n: number, dim: number): void => {
  const rows = new Float32Array(buffer, layout.rows, (layout.norms - layout.rows) / 4);
  const norms = new Float32Array(buffer, layout.norms, n);
  const width = layout.stride / 4;
  const mean = new Float64Array(dim);
  if (layout.metric === "euclidean") {
    for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d] += points[i * dim + d]! / n;
  }
  for (let i = 0; i < n; i++) {
    const row = layout.metric === "cosine" ? rowsAsFloat64(points.subarray(i * dim, (i + 1) * dim), 1, dim, "cosine") : null;
    let sq = 0;
    for (let d = 0; d < dim; d++) {
      const v = Math.fround(row ? row[d]! : points[i * dim + d]! - mean[d]!);
      rows[i * width + d] = v;
      sq += v * v;
    }
    norms[i] = sq;
  }
};
