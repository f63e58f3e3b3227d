import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GgufFormatError, readGguf, readTensorF32 } from "../../../adapters/llm/gguf/reader.ts";
import { fromHalf, gv, toHalf } from "../../../adapters/llm/gguf/types.ts";
import { writeGguf } from "../../../adapters/llm/gguf/writer.ts";

const dir = mkdtempSync(join(tmpdir(), "sophont-gguf-"));

const sample = () => {
  const path = join(dir, `s${Math.random().toString(36).slice(2)}.gguf`);
  const meta = new Map([
    ["general.architecture", gv.str("llama")],
    ["test.u32", gv.u32(7)],
    ["test.f32", gv.f32(0.5)],
    ["test.bool", gv.bool(true)],
    ["test.strings", gv.strs(["a", "▁bé", ""])],
    ["test.i32s", gv.i32s([-1, 2])],
  ]);
  const a = Float32Array.from({ length: 15 }, (_, i) => i - 7.25);
  const b = Float32Array.from([1, 0, -2, 0.5, 65504]);
  writeGguf(path, meta, [
    { name: "a", shape: [5, 3], type: "F32", data: a },
    { name: "b", shape: [5], type: "F16", data: b },
  ]);
  return { path, a, b };
};

describe("GGUF v3 writer and reader", () => {
  it("round-trips metadata kinds and F32/F16 tensors, aligned to 32 bytes", () => {
    const { path, a, b } = sample();
    const file = readGguf(path);
    expect(file.version).toBe(3);
    expect(file.metadata.get("test.u32")).toEqual({ kind: "uint32", value: 7 });
    expect(file.metadata.get("test.f32")).toEqual({ kind: "float32", value: 0.5 });
    expect(file.metadata.get("test.bool")).toEqual({ kind: "bool", value: true });
    expect(file.metadata.get("test.strings")).toEqual({ kind: "array", of: "string", value: ["a", "▁bé", ""] });
    expect(file.metadata.get("test.i32s")).toEqual({ kind: "array", of: "int32", value: [-1, 2] });
    expect(file.tensors.map((t) => [t.name, t.shape, t.type])).toEqual([["a", [5, 3], 0], ["b", [5], 1]]);
    for (const t of file.tensors) expect(t.offset % 32).toBe(0);
    expect(file.dataOffset % 32).toBe(0);
    expect(readTensorF32(path, file, "a")).toEqual(a);
    expect(readTensorF32(path, file, "b")).toEqual(b);
  });

  it("starts with the GGUF magic and version 3, little endian", () => {
    const bytes = readFileSync(sample().path);
    expect(bytes.subarray(0, 4).toString("latin1")).toBe("GGUF");
    expect(bytes.readUInt32LE(4)).toBe(3);
  });

  it("rejects truncated files and non-GGUF bytes with a reason", () => {
    const { path } = sample();
    const bytes = readFileSync(path);
    const cut = join(dir, "cut.gguf");
    writeFileSync(cut, bytes.subarray(0, bytes.length - 30));
    expect(() => readGguf(cut)).toThrow(/truncated: tensor b/);
    writeFileSync(cut, bytes.subarray(0, 40));
    expect(() => readGguf(cut)).toThrow(GgufFormatError);
    writeFileSync(cut, "not a model at all, just text");
    expect(() => readGguf(cut)).toThrow(/bad magic/);
  });

  it("converts halves exactly for representable values and rounds others to nearest", () => {
    for (const x of [0, 1, -2, 0.5, 65504, 2 ** -24, -0.000061035156]) expect(fromHalf(toHalf(x))).toBeCloseTo(x, 12);
    expect(Math.abs(fromHalf(toHalf(0.1)) - 0.1)).toBeLessThan(0.1 * 2 ** -11);
    expect(fromHalf(toHalf(1e6))).toBe(Infinity);
  });
});
