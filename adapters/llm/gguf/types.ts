/** GGUF value kinds (the numeric codes are the on-disk type ids of GGUF v3). */
export const GgufKind = {
  uint8: 0, int8: 1, uint16: 2, int16: 3, uint32: 4, int32: 5, float32: 6, bool: 7,
  string: 8, array: 9, uint64: 10, int64: 11, float64: 12,
} as const;
export type GgufScalarKind = Exclude<keyof typeof GgufKind, "array">;

/** One metadata value with its GGUF type made explicit (JS numbers alone cannot say u32 vs f32). */
export type GgufValue =
  | { readonly kind: Exclude<GgufScalarKind, "string" | "bool" | "uint64" | "int64">; readonly value: number }
  | { readonly kind: "uint64" | "int64"; readonly value: bigint }
  | { readonly kind: "bool"; readonly value: boolean }
  | { readonly kind: "string"; readonly value: string }
  | { readonly kind: "array"; readonly of: GgufScalarKind; readonly value: ReadonlyArray<number | bigint | boolean | string> };

/** Tensor element types this project writes (ggml type ids). */
export const GgmlType = { F32: 0, F16: 1 } as const;
export type GgmlTypeName = keyof typeof GgmlType;

/**
 * A tensor to write. `shape` is in ggml order: `shape[0]` is the contiguous (row) length, so a
 * PyTorch `[out, in]` Linear weight is written as `[in, out]`.
 */
export interface GgufTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly type: GgmlTypeName;
  readonly data: Float32Array;
}

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** Small constructors so metadata tables read like the GGUF spec. */
export const gv = {
  u32: (value: number): GgufValue => ({ kind: "uint32", value }),
  i32: (value: number): GgufValue => ({ kind: "int32", value }),
  f32: (value: number): GgufValue => ({ kind: "float32", value }),
  bool: (value: boolean): GgufValue => ({ kind: "bool", value }),
  str: (value: string): GgufValue => ({ kind: "string", value }),
  strs: (value: readonly string[]): GgufValue => ({ kind: "array", of: "string", value }),
  f32s: (value: readonly number[]): GgufValue => ({ kind: "array", of: "float32", value }),
  i32s: (value: readonly number[]): GgufValue => ({ kind: "array", of: "int32", value }),
};

/** Float32 -> IEEE half, round to nearest even; exact for the one-hot and small integer values we store. */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
export const toHalf = (f: number): number => {
  f32[0] = f;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (rest > mid || (rest === mid && (half & 1)) ? half + 1 : half);
  }
  const half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  return sign | (rest > 0x1000 || (rest === 0x1000 && (half & 1)) ? half + 1 : half);
};

/** IEEE half -> number. */
export const fromHalf = (h: number): number => {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
};
