from __future__ import annotations

import struct
import tempfile
import unittest
from pathlib import Path

import numpy as np

import helpers  # noqa: F401  (puts sophont_trainer on sys.path)
from sophont_trainer import gguf
from sophont_trainer.gguf import GGUFError, Value, ValueType


def every_type() -> dict[str, Value]:
    V = ValueType
    return {
        "t.u8": Value(V.UINT8, 255),
        "t.i8": Value(V.INT8, -128),
        "t.u16": Value(V.UINT16, 65535),
        "t.i16": Value(V.INT16, -32768),
        "t.u32": Value(V.UINT32, 2**32 - 1),
        "t.i32": Value(V.INT32, -(2**31)),
        "t.f32": Value(V.FLOAT32, 0.5),
        "t.bool": Value(V.BOOL, True),
        "t.str": Value(V.STRING, "héllo ▁wörld \n"),
        "t.u64": Value(V.UINT64, 2**64 - 1),
        "t.i64": Value(V.INT64, -(2**63)),
        "t.f64": Value(V.FLOAT64, 1e-300),
        "t.arr.i32": gguf.array(V.INT32, [1, -2, 3]),
        "t.arr.str": gguf.array(V.STRING, ["a", "", "ü"]),
        "t.arr.f32": gguf.array(V.FLOAT32, [0.25, -1.5]),
        "t.arr.bool": gguf.array(V.BOOL, [True, False]),
        "t.arr.empty": gguf.array(V.UINT8, []),
        "t.arr.nested": gguf.array(V.ARRAY, [gguf.array(V.UINT16, [1, 2]), gguf.array(V.STRING, ["x"])]),
    }


class GGUFRoundTrip(unittest.TestCase):
    def setUp(self) -> None:
        rng = np.random.default_rng(0)
        self.tensors = {
            "a.weight": rng.standard_normal((3, 5)).astype(np.float32),
            "b.weight": rng.standard_normal((7,)).astype(np.float16),
            "c.weight": rng.standard_normal((2, 3, 4)).astype(np.float32),
        }

    def test_every_value_type_and_tensor_round_trips(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "x.gguf"
            gguf.write_gguf(path, every_type(), self.tensors)
            g = gguf.read_gguf(path)
        self.assertEqual(g.metadata, every_type())
        self.assertEqual(list(g.tensors), list(self.tensors))
        for name, arr in self.tensors.items():
            t = g.tensors[name]
            self.assertEqual(t.data.dtype, arr.dtype)
            self.assertEqual(t.type, gguf.TensorType.F16 if arr.dtype == np.float16 else gguf.TensorType.F32)
            np.testing.assert_array_equal(t.data, arr)
        self.assertEqual(g.tensors["c.weight"].ne, (4, 3, 2))  # ggml order is numpy's reversed

    def test_rewrite_is_byte_identical(self) -> None:
        raw = gguf.serialize_gguf(every_type(), self.tensors)
        g = gguf.parse_gguf(raw)
        again = gguf.serialize_gguf(g.metadata, {n: t for n, t in g.tensors.items()})
        self.assertEqual(raw, again)

    def test_layout_header_and_alignment(self) -> None:
        raw = gguf.serialize_gguf({"k": gguf.u32(1)}, self.tensors)
        magic, version, n_t, n_kv = struct.unpack_from("<4sIQQ", raw)
        self.assertEqual((magic, version, n_t, n_kv), (b"GGUF", 3, 3, 1))
        # the data section starts aligned, and each tensor offset is a multiple of 32
        g = gguf.parse_gguf(raw)
        data_start = len(raw) - sum(-(-t.data.nbytes // 32) * 32 for t in g.tensors.values())
        self.assertEqual(data_start % 32, 0)
        first = raw[data_start : data_start + self.tensors["a.weight"].nbytes]
        self.assertEqual(first, self.tensors["a.weight"].tobytes())

    def test_custom_alignment_from_metadata(self) -> None:
        raw = gguf.serialize_gguf({"general.alignment": gguf.u32(64)}, self.tensors)
        g = gguf.parse_gguf(raw)
        self.assertEqual(g.alignment, 64)
        np.testing.assert_array_equal(g.tensors["c.weight"].data, self.tensors["c.weight"])

    def test_type_inference(self) -> None:
        self.assertEqual(gguf.infer_value(3).type, ValueType.UINT32)
        self.assertEqual(gguf.infer_value(-3).type, ValueType.INT64)
        self.assertEqual(gguf.infer_value(1.5).type, ValueType.FLOAT32)
        self.assertEqual(gguf.infer_value(True).type, ValueType.BOOL)
        self.assertEqual(gguf.infer_value(["a"]).item_type, ValueType.STRING)

    def test_rejects_bad_files(self) -> None:
        good = gguf.serialize_gguf({"k": gguf.u32(1)}, self.tensors)
        with self.assertRaisesRegex(GGUFError, "magic"):
            gguf.parse_gguf(b"GGML" + good[4:])
        with self.assertRaisesRegex(GGUFError, "version"):
            gguf.parse_gguf(good[:4] + struct.pack("<I", 2) + good[8:])
        with self.assertRaisesRegex(GGUFError, "truncated|past the end"):
            gguf.parse_gguf(good[: len(good) - 8])
        with self.assertRaisesRegex(GGUFError, "does not fit"):
            gguf.serialize_gguf({"k": Value(ValueType.UINT8, 256)}, {})


if __name__ == "__main__":
    unittest.main()
