import { randomBytes } from "node:crypto";
import { closeSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import {
  GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VERSION, GgmlType, GgufKind,
  type GgufScalarKind, type GgufTensor, type GgufValue, toHalf,
} from "./types.ts";

/** Grows a byte buffer as values are appended; all numbers little endian as GGUF requires. */
class ByteSink {
  private buf = Buffer.alloc(1 << 16);
  length = 0;
  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  u8(v: number) { this.ensure(1); this.buf.writeUInt8(v, this.length); this.length += 1; }
  i8(v: number) { this.ensure(1); this.buf.writeInt8(v, this.length); this.length += 1; }
  u16(v: number) { this.ensure(2); this.buf.writeUInt16LE(v, this.length); this.length += 2; }
  i16(v: number) { this.ensure(2); this.buf.writeInt16LE(v, this.length); this.length += 2; }
  u32(v: number) { this.ensure(4); this.buf.writeUInt32LE(v, this.length); this.length += 4; }
  i32(v: number) { this.ensure(4); this.buf.writeInt32LE(v, this.length); this.length += 4; }
  f32(v: number) { this.ensure(4); this.buf.writeFloatLE(v, this.length); this.length += 4; }
  f64(v: number) { this.ensure(8); this.buf.writeDoubleLE(v, this.length); this.length += 8; }
  u64(v: bigint | number) { this.ensure(8); this.buf.writeBigUInt64LE(BigInt(v), this.length); this.length += 8; }
  i64(v: bigint | number) { this.ensure(8); this.buf.writeBigInt64LE(BigInt(v), this.length); this.length += 8; }
  str(s: string) {
    const bytes = Buffer.from(s, "utf8");
    this.u64(bytes.length);
    this.ensure(bytes.length); bytes.copy(this.buf, this.length); this.length += bytes.length;
  }
  pad(alignment: number) { while (this.length % alignment !== 0) this.u8(0); }
  bytes(): Buffer { return this.buf.subarray(0, this.length); }
}

const writeScalar = (out: ByteSink, kind: GgufScalarKind, v: number | bigint | boolean | string): void => {
  switch (kind) {
    case "uint8": return out.u8(v as number);
    case "int8": return out.i8(v as number);
    case "uint16": return out.u16(v as number);
    case "int16": return out.i16(v as number);
    case "uint32": return out.u32(v as number);
    case "int32": return out.i32(v as number);
    case "float32": return out.f32(v as number);
    case "float64": return out.f64(v as number);
    case "uint64": return out.u64(v as bigint);
    case "int64": return out.i64(v as bigint);
    case "bool": return out.u8(v ? 1 : 0);
    case "string": return out.str(v as string);
    default: { const never: never = kind; throw new Error(`unknown GGUF kind ${String(never)}`); }
  }
};

const writeValue = (out: ByteSink, value: GgufValue): void => {
  out.u32(GgufKind[value.kind]);
  if (value.kind !== "array") return writeScalar(out, value.kind, value.value);
  out.u32(GgufKind[value.of]);
  out.u64(value.value.length);
  for (const item of value.value) writeScalar(out, value.of, item);
};

const tensorBytes = (t: GgufTensor): Buffer => {
  const count = t.shape.reduce((a, b) => a * b, 1);
  if (count !== t.data.length) throw new Error(`tensor ${t.name}: shape ${t.shape.join("x")} needs ${count} values, got ${t.data.length}`);
  if (t.type === "F32") return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const half = new Uint16Array(count);
  for (let i = 0; i < count; i++) half[i] = toHalf(t.data[i]!);
  return Buffer.from(half.buffer);
};

/** A tensor whose bytes are produced only when written, so large files never sit in memory whole. */
export interface GgufTensorSource {
  readonly name: string;
  readonly shape: readonly number[];
  readonly type: GgufTensor["type"];
  /** The tensor's encoded bytes (F32 or F16, little endian); called once, while writing. */
  readonly bytes: () => Uint8Array;
}

const alignmentOf = (metadata: ReadonlyMap<string, GgufValue>): number => {
  const v = metadata.get("general.alignment");
  return v?.kind === "uint32" ? v.value : GGUF_DEFAULT_ALIGNMENT;
};

const byteLength = (t: { shape: readonly number[]; type: GgufTensor["type"] }): number =>
  t.shape.reduce((a, b) => a * b, 1) * (t.type === "F32" ? 4 : 2);

/** The header: magic, counts, metadata, tensor infos with aligned offsets, padding. */
const encodeHeader = (metadata: ReadonlyMap<string, GgufValue>, tensors: ReadonlyArray<{ name: string; shape: readonly number[]; type: GgufTensor["type"] }>): Buffer => {
  const alignment = alignmentOf(metadata);
  const head = new ByteSink();
  head.u32(GGUF_MAGIC);
  head.u32(GGUF_VERSION);
  head.u64(tensors.length);
  head.u64(metadata.size);
  for (const [key, value] of metadata) { head.str(key); writeValue(head, value); }
  let offset = 0;
  for (const t of tensors) {
    head.str(t.name);
    head.u32(t.shape.length);
    for (const d of t.shape) head.u64(d);
    head.u32(GgmlType[t.type]);
    head.u64(offset);
    offset += Math.ceil(byteLength(t) / alignment) * alignment;
  }
  head.pad(alignment);
  return head.bytes();
};

/**
 * Writes a GGUF v3 file (little endian, tensors aligned to `general.alignment`, default 32)
 * atomically: a temp file renamed into place, removed if anything fails, so a concurrent reader never
 * sees half a model. One tensor's bytes are in memory at a time, so gigabyte-sized models stream.
 * Metadata keys keep their insertion order, which llama.cpp does not care about but humans do.
 */
export const writeGgufStreamed = (path: string, metadata: ReadonlyMap<string, GgufValue>, tensors: readonly GgufTensorSource[]): void => {
  const alignment = alignmentOf(metadata);
  const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  const fd = openSync(tmp, "w");
  try {
    writeSync(fd, encodeHeader(metadata, tensors));
    for (const t of tensors) {
      const data = t.bytes();
      if (data.byteLength !== byteLength(t)) throw new Error(`tensor ${t.name}: expected ${byteLength(t)} bytes, got ${data.byteLength}`);
      writeSync(fd, data);
      const rest = (alignment - (data.byteLength % alignment)) % alignment;
      if (rest > 0) writeSync(fd, Buffer.alloc(rest));
    }
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
};

/** Writes tensors held in memory (F32 values, converted to F16 where the tensor says so). */
export const writeGguf = (path: string, metadata: ReadonlyMap<string, GgufValue>, tensors: readonly GgufTensor[]): void =>
  writeGgufStreamed(path, metadata, tensors.map((t) => ({ name: t.name, shape: t.shape, type: t.type, bytes: () => tensorBytes(t) })));
