import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GgufKind, type GgufScalarKind, type GgufValue, fromHalf } from "./types.ts";

/** A GGUF file that cannot be parsed; `reason` is meant for humans and logs. */
export class GgufFormatError extends Error {
  readonly _tag = "GgufFormatError";
  constructor(readonly path: string, readonly reason: string) {
    super(`invalid GGUF ${path}: ${reason}`);
  }
}

/** One entry of the tensor table. */
export interface GgufTensorInfo {
  readonly name: string;
  /** ggml order: shape[0] is the contiguous length. */
  readonly shape: readonly number[];
  readonly type: number;
  /** Absolute byte offset of the tensor data in the file. */
  readonly offset: number;
}

/** A parsed GGUF header: metadata in file order and the tensor table. */
export interface GgufFile {
  readonly version: number;
  readonly metadata: ReadonlyMap<string, GgufValue>;
  readonly tensors: readonly GgufTensorInfo[];
  readonly dataOffset: number;
  readonly fileSize: number;
}

const kindName = Object.fromEntries(Object.entries(GgufKind).map(([k, v]) => [v, k])) as Record<number, keyof typeof GgufKind>;
const MAX_COUNT = 1 << 28; // a corrupt count must fail fast, not allocate the machine away

/** Reads a file forwards through a small window, so parsing a 60 GB model reads only its header. */
class Cursor {
  private window = Buffer.alloc(0);
  private windowStart = 0;
  pos = 0;
  constructor(private readonly fd: number, readonly size: number, private readonly path: string) {}
  private need(n: number): Buffer {
    if (this.pos + n > this.size) throw new GgufFormatError(this.path, `truncated: needs ${this.pos + n} bytes, file has ${this.size}`);
    const rel = this.pos - this.windowStart;
    if (rel < 0 || rel + n > this.window.length) {
      this.window = Buffer.alloc(Math.max(n, 1 << 20));
      const got = readSync(this.fd, this.window, 0, this.window.length, this.pos);
      this.window = this.window.subarray(0, got);
      this.windowStart = this.pos;
    }
    const start = this.pos - this.windowStart;
    this.pos += n;
    return this.window.subarray(start, start + n);
  }
  u8() { return this.need(1).readUInt8(0); }
  u32() { return this.need(4).readUInt32LE(0); }
  u64() {
    const v = this.need(8).readBigUInt64LE(0);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new GgufFormatError(this.path, `implausible 64-bit size ${v} at byte ${this.pos - 8}`);
    return Number(v);
  }
  str() {
    const n = this.u64();
    return this.need(n).toString("utf8");
  }
  scalar(kind: GgufScalarKind): number | bigint | boolean | string {
    switch (kind) {
      case "uint8": return this.need(1).readUInt8(0);
      case "int8": return this.need(1).readInt8(0);
      case "uint16": return this.need(2).readUInt16LE(0);
      case "int16": return this.need(2).readInt16LE(0);
      case "uint32": return this.u32();
      case "int32": return this.need(4).readInt32LE(0);
      case "float32": return this.need(4).readFloatLE(0);
      case "float64": return this.need(8).readDoubleLE(0);
      case "uint64": return this.need(8).readBigUInt64LE(0);
      case "int64": return this.need(8).readBigInt64LE(0);
      case "bool": return this.u8() !== 0;
      case "string": return this.str();
      default: { const never: never = kind; throw new Error(String(never)); }
    }
  }
}

const readKind = (c: Cursor, path: string): keyof typeof GgufKind => {
  const code = c.u32();
  const kind = kindName[code];
  if (kind === undefined) throw new GgufFormatError(path, `unknown value type ${code} at byte ${c.pos - 4}`);
  return kind;
};

const readValue = (c: Cursor, path: string): GgufValue => {
  const kind = readKind(c, path);
  if (kind !== "array") return { kind, value: c.scalar(kind) } as GgufValue;
  const of = readKind(c, path);
  if (of === "array") throw new GgufFormatError(path, "nested arrays are not supported");
  const n = c.u64();
  if (n > MAX_COUNT) throw new GgufFormatError(path, `array of ${n} items is implausible`);
  const value: Array<number | bigint | boolean | string> = new Array(n);
  for (let i = 0; i < n; i++) value[i] = c.scalar(of);
  return { kind: "array", of, value };
};

/** Bytes per element for the ggml types whose size we check; other types are skipped in the bounds check. */
const elementBytes: Record<number, number> = { 0: 4, 1: 2, 24: 1, 25: 2, 26: 4, 27: 8, 28: 8, 30: 2 };

/**
 * Parses the header, metadata and tensor table of a GGUF (v2 or v3) and checks that every
 * tensor of a known type lies inside the file, which catches truncated downloads and writes.
 */
export const readGguf = (path: string): GgufFile => {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    const c = new Cursor(fd, size, path);
    if (size < 24) throw new GgufFormatError(path, `only ${size} bytes, too short for a GGUF header`);
    if (c.u32() !== GGUF_MAGIC) throw new GgufFormatError(path, "bad magic (not a GGUF file)");
    const version = c.u32();
    if (version < 2 || version > 3) throw new GgufFormatError(path, `unsupported GGUF version ${version}`);
    const tensorCount = c.u64();
    const kvCount = c.u64();
    if (tensorCount > MAX_COUNT || kvCount > MAX_COUNT) throw new GgufFormatError(path, "implausible tensor or key count");
    const metadata = new Map<string, GgufValue>();
    for (let i = 0; i < kvCount; i++) metadata.set(c.str(), readValue(c, path));
    const infos: Array<Omit<GgufTensorInfo, "offset"> & { rel: number }> = [];
    for (let i = 0; i < tensorCount; i++) {
      const name = c.str();
      const dims = c.u32();
      if (dims > 4) throw new GgufFormatError(path, `tensor ${name} has ${dims} dimensions`);
      const shape = Array.from({ length: dims }, () => c.u64());
      infos.push({ name, shape, type: c.u32(), rel: c.u64() });
    }
    const align = metadata.get("general.alignment");
    const alignment = align?.kind === "uint32" ? align.value : GGUF_DEFAULT_ALIGNMENT;
    const dataOffset = Math.ceil(c.pos / alignment) * alignment;
    const tensors = infos.map(({ rel, ...t }) => ({ ...t, offset: dataOffset + rel }));
    for (const t of tensors) {
      const per = elementBytes[t.type];
      if (per === undefined) continue;
      const end = t.offset + per * t.shape.reduce((a, b) => a * b, 1);
      if (end > size) throw new GgufFormatError(path, `truncated: tensor ${t.name} ends at byte ${end}, file has ${size}`);
    }
    return { version, metadata, tensors, dataOffset, fileSize: size };
  } finally {
    closeSync(fd);
  }
};

/** Reads one F32 or F16 tensor's values (for tests and tooling; not meant for big models). */
export const readTensorF32 = (path: string, file: GgufFile, name: string): Float32Array => {
  const t = file.tensors.find((x) => x.name === name);
  if (t === undefined) throw new GgufFormatError(path, `no tensor ${name}`);
  if (t.type !== 0 && t.type !== 1) throw new GgufFormatError(path, `tensor ${name} has type ${t.type}, not F32/F16`);
  const n = t.shape.reduce((a, b) => a * b, 1);
  const buf = Buffer.alloc(n * (t.type === 0 ? 4 : 2));
  const fd = openSync(path, "r");
  try { readSync(fd, buf, 0, buf.length, t.offset); } finally { closeSync(fd); }
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = t.type === 0 ? buf.readFloatLE(i * 4) : fromHalf(buf.readUInt16LE(i * 2));
  return out;
};

/** The scalar value of a metadata key, or undefined. */
export const metaValue = (file: GgufFile, key: string): number | bigint | boolean | string | undefined => {
  const v = file.metadata.get(key);
  return v === undefined || v.kind === "array" ? undefined : v.value;
};
