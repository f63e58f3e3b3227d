import type { Metric } from "../space.ts";
import { assemble, Code, F32, I32, V128 } from "./assembler.ts";

/** Where the kernels find their data in linear memory; all byte addresses, baked into the code. */
export interface Layout {
  readonly metric: Metric;
  /** Row length in bytes: dim padded to a multiple of 4 x UNROLL floats. */
  readonly stride: number;
  readonly rows: number;
  /** Squared norm of each row (float32). */
  readonly norms: number;
  /** Output of `block`: BLOCK x BLOCK float32 keys. */
  readonly blockOut: number;
  readonly blockWidth: number;
  /** Input (int32 row ids) and output (float32 keys) of `gather`. */
  readonly gatherIn: number;
  readonly gatherOut: number;
}

/** Micro-tile of `block`: TILE_ROWS x TILE_COLS dot products share every load. */
export const TILE_ROWS = Number(process.env.TR ?? 4);
export const TILE_COLS = Number(process.env.TC ?? 2);
/** Rows `gather` handles per pass over the query. */
export const GATHER_ROWS = 4;
/** Dimension chunks (4 floats each) per loop iteration. */
export const UNROLL = Number(process.env.UN ?? 2);

/**
 * Builds the kernel module. `block(a, na, b, nb)` writes the keys of rows a.. (na of them, a
 * multiple of TILE_ROWS) against rows b.. (nb, a multiple of TILE_COLS); `gather(q, count)` writes
 * the keys of row q against `count` (a multiple of GATHER_ROWS) listed rows.
 */
export const kernelModule = (layout: Layout, memory: { pages: number; maxPages: number; shared: boolean }): Uint8Array =>
  assemble(
    [
      { name: "block", params: [I32, I32, I32, I32], code: blockKernel(layout) },
      { name: "gather", params: [I32, I32], code: gatherKernel(layout) },
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

const zeroVector = (c: Code, local: number): void => {
  c.f32(0).splatF32x4().set(local);
};

const blockKernel = (layout: Layout): Code => {
  const c = new Code(4);
  const [a, na, b, nb] = [0, 1, 2, 3];
  const [i, j, pa, pb, k, xa, xb, out] = [I32, I32, I32, I32, I32, I32, I32, I32].map((t) => c.local(t)) as number[];
  const acc = Array.from({ length: TILE_ROWS * TILE_COLS }, () => c.local(V128));
  const vb = Array.from({ length: TILE_COLS }, () => c.local(V128));
  const va = c.local(V128);
  const { stride } = layout;
  c.i32(0).set(i!);
  c.loop(() => {
    c.get(a).get(i!).add().i32(stride).mul().i32(layout.rows).add().set(pa!);
    c.i32(0).set(j!);
    c.loop(() => {
      c.get(b).get(j!).add().i32(stride).mul().i32(layout.rows).add().set(pb!);
      for (const x of acc) zeroVector(c, x);
      c.i32(0).set(k!);
      c.loop(() => {
        c.get(pa!).get(k!).add().set(xa!);
        c.get(pb!).get(k!).add().set(xb!);
        for (let u = 0; u < UNROLL; u++) {
          for (let col = 0; col < TILE_COLS; col++) c.get(xb!).loadV128(col * stride + u * 16).set(vb[col]!);
          for (let row = 0; row < TILE_ROWS; row++) {
            c.get(xa!).loadV128(row * stride + u * 16).set(va);
            for (let col = 0; col < TILE_COLS; col++) {
              const x = acc[row * TILE_COLS + col]!;
              c.get(x).get(va).get(vb[col]!).mulF32x4().addF32x4().set(x);
            }
          }
        }
        c.get(k!).i32(16 * UNROLL).add().tee(k!).i32(stride).ltU().continueIf();
      });
      // out = blockOut + (i * width + j) * 4
      c.get(i!).i32(layout.blockWidth).mul().get(j!).add().i32(4).mul().set(out!);
      for (let row = 0; row < TILE_ROWS; row++) {
        for (let col = 0; col < TILE_COLS; col++) {
          c.get(out!);
          emitKey(
            c,
            layout,
            () => horizontalSum(c, acc[row * TILE_COLS + col]!),
            () => c.get(a).get(i!).add().i32(row).add().i32(4).mul(),
            () => c.get(b).get(j!).add().i32(col).add().i32(4).mul(),
          );
          c.storeF32(layout.blockOut + (row * layout.blockWidth + col) * 4);
        }
      }
      c.get(j!).i32(TILE_COLS).add().tee(j!).get(nb).ltU().continueIf();
    });
    c.get(i!).i32(TILE_ROWS).add().tee(i!).get(na).ltU().continueIf();
  });
  return c;
};

const gatherKernel = (layout: Layout): Code => {
  const c = new Code(2);
  const [q, count] = [0, 1];
  const [t, pq, k, xq] = [I32, I32, I32, I32].map((type) => c.local(type)) as number[];
  const p = Array.from({ length: GATHER_ROWS }, () => c.local(I32));
  const acc = Array.from({ length: GATHER_ROWS }, () => c.local(V128));
  const vq = c.local(V128);
  const { stride } = layout;
  c.get(q).i32(stride).mul().i32(layout.rows).add().set(pq!);
  c.i32(0).set(t!);
  c.loop(() => {
    for (let g = 0; g < GATHER_ROWS; g++) {
      c.get(t!).i32(g).add().i32(4).mul().loadI32(layout.gatherIn).i32(stride).mul().i32(layout.rows).add().set(p[g]!);
      zeroVector(c, acc[g]!);
    }
    c.i32(0).set(k!);
    c.loop(() => {
      c.get(pq!).get(k!).add().set(xq!);
      for (let u = 0; u < UNROLL; u++) {
        c.get(xq!).loadV128(u * 16).set(vq);
        for (let g = 0; g < GATHER_ROWS; g++) {
          c.get(acc[g]!).get(vq).get(p[g]!).get(k!).add().loadV128(u * 16).mulF32x4().addF32x4().set(acc[g]!);
        }
      }
      c.get(k!).i32(16 * UNROLL).add().tee(k!).i32(stride).ltU().continueIf();
    });
    for (let g = 0; g < GATHER_ROWS; g++) {
      c.get(t!).i32(g).add().i32(4).mul();
      emitKey(
        c,
        layout,
        () => horizontalSum(c, acc[g]!),
        () => c.get(q).i32(4).mul(),
        () => c.get(t!).i32(g).add().i32(4).mul().loadI32(layout.gatherIn).i32(4).mul(),
      );
      c.storeF32(layout.gatherOut);
    }
    c.get(t!).i32(GATHER_ROWS).add().tee(t!).get(count).ltU().continueIf();
  });
  return c;
};
