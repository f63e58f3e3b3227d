import { BATCH, BLOCK, rowsAsFloat64, type Metric, type PairList, type Space } from "../space.ts";
import { startHelper, type Helper } from "./helper.ts";
import { kernelModule, TILE_COLS, TILE_ROWS, type Layout } from "./kernels.ts";
import { wasmApi } from "./runtime.ts";

interface Kernels {
  block(a: number, na: number, b: number, nb: number, out: number): void;
  rows(na: number, first: number, end: number): void;
}

const PAGE = 65536;
/** Fewer columns than this are not worth splitting across threads. */
const SPLIT_COLUMNS = 512;
const roundUp = (x: number, step: number): number => Math.ceil(x / step) * step;

/**
 * Keys from float32 dot products in WebAssembly SIMD (f32x4), with a module generated for this
 * dimension so every row offset is a constant. Euclidean rows are centred first, which keeps the
 * |a|^2 + |b|^2 - 2 a.b form accurate. With `threads` = 2 a helper thread shares the work.
 * Returns null where WebAssembly SIMD is unavailable.
 */
export const simdSpace = (points: Float32Array, n: number, dim: number, metric: Metric, threads = 1): Space | null => {
  const stride = roundUp(dim, 4) * 4;
  const padded = roundUp(n, 8);
  const layout = planLayout(metric, n, stride, padded);
  const pages = Math.ceil(layout.end / PAGE);
  if (!wasmApi || pages > 65536) return null;
  const shared = threads > 1;
  const bytes = kernelModule(layout, { pages, maxPages: pages, shared });
  if (!wasmApi.validate(bytes)) return null;
  const memory = new wasmApi.Memory({ initial: pages, maximum: pages, shared });
  const module = new wasmApi.Module(bytes);
  const kernels = new wasmApi.Instance(module, { env: { memory } }).exports as unknown as Kernels;
  fillRows(memory.buffer, layout, points, n, dim);
  const helper = shared ? startHelper(module, memory) : null;
  const view = (offset: number, length: number) => new Float32Array(memory.buffer, offset, length);
  const pairLists = layout.blockOut.map((at) => {
    const counter = new Int32Array(memory.buffer, at, 1);
    const list = { count: 0, ids: new Int32Array(memory.buffer, at + 16, 3 * BLOCK * BLOCK), keys: view(at + 16, 3 * BLOCK * BLOCK) };
    return (): PairList => ((list.count = counter[0]!), list);
  });
  const cache = view(layout.cache, BATCH * padded);
  const batchInput = new Int32Array(memory.buffer, layout.batchIds, BATCH);
  const columnInput = new Int32Array(memory.buffer, layout.columns, padded);
  const floats = new Float32Array(memory.buffer);
  const blockArgs = (i0: number, i1: number, j0: number, j1: number) =>
    [i0, roundUp(i1 - i0, TILE_ROWS), j0, roundUp(j1 - j0, TILE_COLS)] as const;
  return {
    n,
    bound: view(layout.bound, padded),
    nearPairs(i0, i1, j0, j1) {
      kernels.block(...blockArgs(i0, i1, j0, j1), layout.blockOut[0]);
      return pairLists[0]!();
    },
    startNearPairs(i0, i1, j0, j1) {
      if (helper) helper.block(...blockArgs(i0, i1, j0, j1), layout.blockOut[1]);
      else kernels.block(...blockArgs(i0, i1, j0, j1), layout.blockOut[1]);
    },
    finishNearPairs() {
      helper?.wait();
      return pairLists[1]!();
    },
    batchInput,
    columnInput,
    cacheWidth: padded,
    rows(batchCount, columnCount) {
      if (batchCount === 0 || columnCount === 0) return cache;
      // Pad both lists to whole tiles by repeating an entry: the repeats rewrite the same keys.
      const rowsWhole = roundUp(batchCount, TILE_ROWS);
      const columnsWhole = roundUp(columnCount, TILE_COLS);
      for (let s = batchCount; s < rowsWhole; s++) batchInput[s] = batchInput[batchCount - 1]!;
      for (let t = columnCount; t < columnsWhole; t++) columnInput[t] = columnInput[columnCount - 1]!;
      const width = layout.stride / 4;
      for (let s = 0; s < rowsWhole; s++) {
        const from = layout.rows / 4 + batchInput[s]! * width;
        floats.copyWithin(layout.batchRows / 4 + s * width, from, from + width);
      }
      const split = helper && columnsWhole >= SPLIT_COLUMNS ? roundUp(columnsWhole / 2, TILE_COLS) : columnsWhole;
      if (split < columnsWhole) helper!.rows(rowsWhole, split, columnsWhole);
      kernels.rows(rowsWhole, 0, split);
      if (split < columnsWhole) helper!.wait();
      return cache;
    },
    distance: metric === "euclidean" ? Math.sqrt : (k) => k,
    dispose() {
      helper?.close();
    },
  };
};

const planLayout = (metric: Metric, n: number, stride: number, padded: number): Layout & { end: number; blockOut: readonly [number, number] } => {
  const rows = 0;
  const norms = rows + padded * stride;
  const bound = norms + padded * 4;
  const pairBytes = 16 + BLOCK * BLOCK * 12;
  const blockOut = [roundUp(bound + padded * 4, 16), 0] as [number, number];
  blockOut[1] = blockOut[0] + pairBytes;
  const batchRows = blockOut[1] + pairBytes;
  const batchIds = batchRows + BATCH * stride;
  const columns = batchIds + BATCH * 4;
  const cache = columns + padded * 4;
  const end = cache + BATCH * padded * 4;
  return { metric, n, stride, rows, norms, bound, blockOut, batchRows, batchIds, columns, cache, cacheWidth: padded, end };
};

/** Writes float32 rows (centred for euclidean, unit for cosine) and their squared norms. */
const fillRows = (buffer: ArrayBufferLike, layout: Layout, points: Float32Array, n: number, dim: number): void => {
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
