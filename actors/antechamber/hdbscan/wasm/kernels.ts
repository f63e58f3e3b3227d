import type { Metric } from "../space.ts";
import { assemble, Code, F32, I32, V128 } from "./assembler.ts";

/** Where the kernels find their data in linear memory; all byte addresses, baked into the code. */
export interface Layout {
  readonly metric: Metric;
  /** Row length in bytes: dim padded to a multiple of 4 floats. */
  readonly stride: number;
  readonly rows: number;
  /** Squared norm of each row (float32). */
  readonly norms: number;
  /** Number of real rows (the rest are zero padding). */
  readonly n: number;
  /** Per-row bound (float32): `block` lists only pairs whose key is below either row's bound. */
  readonly bound: number;
  /** `rows` input: the batch's row ids, a contiguous copy of those rows, and the column ids. */
  readonly batchIds: number;
  readonly batchRows: number;
  readonly columns: number;
  /** `rows` output: float32 keys, one row of cacheWidth per batch row, indexed by column id. */
  readonly cache: number;
  readonly cacheWidth: number;
}

/** Micro-tile of `block`: TILE_ROWS x TILE_COLS dot products share every load. */
export const TILE_ROWS = 4;
export const TILE_COLS = 2;

/**
 * Builds the kernel module. `block(a, na, b, nb, out)` lists at `out` the pairs (row, column, key)
 * of rows a.. (na of them, a multiple of TILE_ROWS) against rows b.. (nb, a multiple of TILE_COLS)
 * with row < column < n and a key below the bound of either: the count as an i32 at `out`, then
 * 12-byte entries from `out + 16`; `rows(na, first,
 * end)` writes into the cache the keys of the na batch rows (a multiple of TILE_ROWS) against the
 * listed columns first .. end (both multiples of TILE_COLS).
 */
export const kernelModule = (layout: Layout, memory: { pages: number; maxPages: number; shared: boolean }): Uint8Array =>
  assemble(
    [
      { name: "block", params: [I32, I32, I32, I32, I32], code: blockKernel(layout) },
      { name: "rows", params: [I32, I32, I32], code: rowsKernel(layout) },
    ],
    memory,
  );

/** Pushes key(dot) for rows whose ids are in locals `a` and `b` (plus constant offsets). */
const emitKey = (c: Code, layout: Layout, dot: () => void, a: () => void, b: () => void): void => {
  if (layout.metric === "cosine") {
    // 1 - dot, clipped to [0, 2] as scikit-learn's cosine_distances.
    c.f32(1);
    dot();
    c.subF32().f32(0).maxF32().f32(2).minF32();
    return;
  }
  // |a|^2 + |b|^2 - 2 a.b, floored at 0 where rounding would make it negative.
  a();
  c.loadF32(layout.norms);
  b();
  c.loadF32(layout.norms);
  c.addF32();
  dot();
  c.f32(2).mulF32().subF32().f32(0).maxF32();
};

const horizontalSum = (c: Code, acc: number): void => {
  c.get(acc).lane(0).get(acc).lane(1).addF32().get(acc).lane(2).get(acc).lane(3).addF32().addF32();
};

/** Locals of one micro-tile: TILE_ROWS x TILE_COLS 4-lane accumulators and the loaded chunks. */
interface Tile {
  readonly acc: number[];
  readonly va: number;
  readonly vb: number[];
  readonly k: number;
}

const tileLocals = (c: Code): Tile => ({
  acc: Array.from({ length: TILE_ROWS * TILE_COLS }, () => c.local(V128)),
  va: c.local(V128),
  vb: Array.from({ length: TILE_COLS }, () => c.local(V128)),
  k: c.local(I32),
});

/**
 * Accumulates the tile's dot products over the row, 16 bytes per step of `tile.k`. Both kernels
 * run this same sequence, so a pair's key is bitwise the same whichever kernel computes it.
 */
const emitDotTile = (c: Code, tile: Tile, stride: number, step: () => void, loadA: (row: number) => void, loadB: (col: number) => void): void => {
  for (const x of tile.acc) c.f32(0).splatF32x4().set(x);
  c.i32(0).set(tile.k);
  c.loop(() => {
    step();
    for (let col = 0; col < TILE_COLS; col++) {
      loadB(col);
      c.set(tile.vb[col]!);
    }
    for (let row = 0; row < TILE_ROWS; row++) {
      loadA(row);
      c.set(tile.va);
      for (let col = 0; col < TILE_COLS; col++) {
        const x = tile.acc[row * TILE_COLS + col]!;
        c.get(x).get(tile.va).get(tile.vb[col]!).mulF32x4().addF32x4().set(x);
      }
    }
    c.get(tile.k).i32(16).add().tee(tile.k).i32(stride).ltU().continueIf();
  });
};

/** Address of row `id` (an i32 the caller pushes first). */
const rowAddress = (c: Code, layout: Layout): void => {
  c.i32(layout.stride).mul().i32(layout.rows).add();
};

const blockKernel = (layout: Layout): Code => {
  const c = new Code(5);
  const [a, na, b, nb, outBase] = [0, 1, 2, 3, 4];
  const [i, j, pa, pb, xa, xb, r, q, count, at] = [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32].map((t) => c.local(t)) as number[];
  const key = c.local(F32);
  const tile = tileLocals(c);
  const { stride } = layout;
  c.i32(0).set(count!).i32(0).set(i!);
  c.loop(() => {
    c.get(a).get(i!).add();
    rowAddress(c, layout);
    c.set(pa!).i32(0).set(j!);
    c.loop(() => {
      c.get(b).get(j!).add();
      rowAddress(c, layout);
      c.set(pb!);
      emitDotTile(
        c,
        tile,
        stride,
        () => c.get(pa!).get(tile.k).add().set(xa!).get(pb!).get(tile.k).add().set(xb!),
        (row) => c.get(xa!).loadV128(row * stride),
        (col) => c.get(xb!).loadV128(col * stride),
      );
      for (let row = 0; row < TILE_ROWS; row++) {
        for (let col = 0; col < TILE_COLS; col++) {
          c.get(a).get(i!).add().i32(row).add().set(r!);
          c.get(b).get(j!).add().i32(col).add().set(q!);
          emitKey(c, layout, () => horizontalSum(c, tile.acc[row * TILE_COLS + col]!), () => c.get(r!).i32(4).mul(), () => c.get(q!).i32(4).mul());
          c.set(key!);
          emitAppendIfNear(c, layout, { r: r!, q: q!, key: key!, count: count!, out: outBase, at: at! });
        }
      }
      c.get(j!).i32(TILE_COLS).add().tee(j!).get(nb).ltU().continueIf();
    });
    c.get(i!).i32(TILE_ROWS).add().tee(i!).get(na).ltU().continueIf();
  });
  c.get(outBase).get(count!).storeI32();
  return c;
};

/** Appends (r, q, key) at out + 16 + 12 count when r < q < n and key is below bound[r] or bound[q]. */
const emitAppendIfNear = (c: Code, layout: Layout, v: { r: number; q: number; key: number; count: number; out: number; at: number }): void => {
  c.get(v.q).get(v.r).gtU().get(v.q).i32(layout.n).ltU().and();
  c.get(v.key).get(v.r).i32(4).mul().loadF32(layout.bound).ltF32();
  c.get(v.key).get(v.q).i32(4).mul().loadF32(layout.bound).ltF32().or().and();
  c.when(() => {
    c.get(v.count).i32(12).mul().get(v.out).add().set(v.at);
    c.get(v.at).get(v.r).storeI32(16).get(v.at).get(v.q).storeI32(20).get(v.at).get(v.key).storeF32(24);
    c.get(v.count).i32(1).add().set(v.count);
  });
};

/** Columns per chunk of `rows`: a chunk's rows stay in L2 while every batch row passes over them. */
const CHUNK = 64;

const rowsKernel = (layout: Layout): Code => {
  const c = new Code(3);
  const [na, first, nb] = [0, 1, 2];
  const [i, j, j0, end, pa, xa, id] = [I32, I32, I32, I32, I32, I32, I32].map((t) => c.local(t)) as number[];
  const pb = Array.from({ length: TILE_COLS }, () => c.local(I32));
  const col = Array.from({ length: TILE_COLS }, () => c.local(I32));
  const tile = tileLocals(c);
  const { stride } = layout;
  c.get(first).set(j0!);
  c.loop(() => {
    // end = min(j0 + CHUNK, nb)
    c.get(j0!).i32(CHUNK).add().get(nb).get(j0!).i32(CHUNK).add().get(nb).ltU().select().set(end!);
    c.i32(0).set(i!);
    c.loop(() => {
      c.get(i!).i32(stride).mul().i32(layout.batchRows).add().set(pa!);
      c.get(j0!).set(j!);
      c.loop(() => {
        for (let x = 0; x < TILE_COLS; x++) {
          c.get(j!).i32(x).add().i32(4).mul().loadI32(layout.columns).tee(col[x]!);
          rowAddress(c, layout);
          c.set(pb[x]!);
        }
        emitDotTile(
          c,
          tile,
          stride,
          () => c.get(pa!).get(tile.k).add().set(xa!),
          (row) => c.get(xa!).loadV128(row * stride),
          (x) => c.get(pb[x]!).get(tile.k).add().loadV128(),
        );
        emitCacheStores(c, layout, tile, i!, id!, col);
        c.get(j!).i32(TILE_COLS).add().tee(j!).get(end!).ltU().continueIf();
      });
      c.get(i!).i32(TILE_ROWS).add().tee(i!).get(na).ltU().continueIf();
    });
    c.get(j0!).i32(CHUNK).add().tee(j0!).get(nb).ltU().continueIf();
  });
  return c;
};

/** cache[(i + row) * width + column] = key, for the whole tile. */
const emitCacheStores = (c: Code, layout: Layout, tile: Tile, i: number, id: number, col: number[]): void => {
  const cacheRow = layout.cacheWidth * 4;
  for (let row = 0; row < TILE_ROWS; row++) {
    c.get(i).i32(row).add().i32(4).mul().loadI32(layout.batchIds).set(id);
    for (let x = 0; x < TILE_COLS; x++) {
      c.get(i).i32(cacheRow).mul().get(col[x]!).i32(4).mul().add();
      emitKey(
        c,
        layout,
        () => horizontalSum(c, tile.acc[row * TILE_COLS + x]!),
        () => c.get(id).i32(4).mul(),
        () => c.get(col[x]!).i32(4).mul(),
      );
      c.storeF32(layout.cache + row * cacheRow);
    }
  }
};
