"""GGUF v3 reader and writer (numpy only).

Written from the format description in llama.cpp's docs/gguf.md: a little-endian header
(magic, version, tensor count, metadata count), the metadata key/value pairs, the tensor infos,
padding to the alignment, then the tensor data, each tensor starting at an aligned offset.

Metadata values keep their GGUF type (`Value`) so that a file read and written back is
byte-for-byte the same, and so that callers can force the exact type llama.cpp checks for
(llama.cpp refuses e.g. an INT32 where it expects UINT32).
"""

from __future__ import annotations

import enum
import io
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from .quants import QUANTIZED, GGMLType, dequantize, quantize, row_bytes

MAGIC = b"GGUF"
VERSION = 3
DEFAULT_ALIGNMENT = 32


class GGUFError(ValueError):
    """A file that is not valid GGUF, or a value that GGUF cannot hold."""


class ValueType(enum.IntEnum):
    UINT8 = 0
    INT8 = 1
    UINT16 = 2
    INT16 = 3
    UINT32 = 4
    INT32 = 5
    FLOAT32 = 6
    BOOL = 7
    STRING = 8
    ARRAY = 9
    UINT64 = 10
    INT64 = 11
    FLOAT64 = 12


# ggml tensor types this module can store: F32/F16 as numpy arrays, the quantized ones as packed
# uint8 blocks (see quants.py)
TensorType = GGMLType


# struct format codes for the fixed-size scalar types
_SCALAR_FMT: dict[ValueType, str] = {
    ValueType.UINT8: "B",
    ValueType.INT8: "b",
    ValueType.UINT16: "H",
    ValueType.INT16: "h",
    ValueType.UINT32: "I",
    ValueType.INT32: "i",
    ValueType.FLOAT32: "f",
    ValueType.BOOL: "?",
    ValueType.UINT64: "Q",
    ValueType.INT64: "q",
    ValueType.FLOAT64: "d",
}

_TENSOR_DTYPE: dict[TensorType, np.dtype] = {
    TensorType.F32: np.dtype("<f4"),
    TensorType.F16: np.dtype("<f2"),
}


@dataclass(frozen=True)
class Value:
    """A metadata value with its GGUF type. For arrays, `item_type` is the element type."""

    type: ValueType
    value: Any
    item_type: ValueType | None = None

    def __post_init__(self) -> None:
        if self.type == ValueType.ARRAY and self.item_type is None:
            raise GGUFError("an ARRAY value needs an item_type")


def u32(v: int) -> Value:
    return Value(ValueType.UINT32, int(v))


def i32(v: int) -> Value:
    return Value(ValueType.INT32, int(v))


def f32(v: float) -> Value:
    return Value(ValueType.FLOAT32, float(v))


def string(v: str) -> Value:
    return Value(ValueType.STRING, v)


def array(item_type: ValueType, items: Iterable[Any]) -> Value:
    return Value(ValueType.ARRAY, list(items), item_type)


def infer_value(v: Any) -> Value:
    """Pick a GGUF type for a plain Python value; use the helpers above to force another one."""
    if isinstance(v, Value):
        return v
    if isinstance(v, bool):
        return Value(ValueType.BOOL, v)
    if isinstance(v, int):
        # UINT32 is what llama.cpp expects for counts and sizes, the common case
        if 0 <= v < 2**32:
            return u32(v)
        return Value(ValueType.INT64, v)
    if isinstance(v, float):
        return f32(v)
    if isinstance(v, str):
        return string(v)
    if isinstance(v, (list, tuple)):
        if not v:
            raise GGUFError("cannot infer the element type of an empty array; use gguf.array()")
        first = infer_value(v[0])
        if first.type == ValueType.ARRAY:
            raise GGUFError("nested arrays need explicit types")
        return array(first.type, v)
    raise GGUFError(f"cannot store {type(v).__name__} in GGUF metadata")


@dataclass
class Tensor:
    """A tensor as numpy sees it: shape is numpy order (slowest first), ggml `ne` is the reverse.

    F32/F16: `data` holds the values. Quantized types (and BF16): `data` is either float values,
    quantized when written, or the packed uint8 blocks [..., row bytes] as read from a file."""

    name: str
    data: np.ndarray
    type: TensorType = TensorType.F32

    @property
    def packed(self) -> bool:
        return self.type in QUANTIZED and self.data.dtype == np.uint8

    @property
    def shape(self) -> tuple[int, ...]:
        """The logical (numpy) shape, also of a packed tensor."""
        if not self.packed:
            return tuple(self.data.shape)
        return (*self.data.shape[:-1], _values_per_row(self.type, self.data.shape[-1]))

    @property
    def ne(self) -> tuple[int, ...]:
        return tuple(reversed(self.shape))

    def blocks(self) -> np.ndarray:
        """The packed bytes as they go into the file."""
        if self.type not in QUANTIZED:
            return np.ascontiguousarray(self.data, dtype=_TENSOR_DTYPE[self.type])
        return self.data if self.packed else quantize(self.data, self.type)

    def values(self) -> np.ndarray:
        """float32 values (quantized types dequantized)."""
        if self.type not in QUANTIZED:
            return self.data.astype(np.float32)
        import torch

        data = self.blocks()
        n = _values_per_row(self.type, data.shape[-1])
        return dequantize(torch.from_numpy(np.array(data)), self.type, n).numpy()


def _values_per_row(t: TensorType, nbytes: int) -> int:
    from .quants import LAYOUTS

    lay = LAYOUTS[t]
    return nbytes // lay.bytes * lay.block


@dataclass
class GGUFFile:
    metadata: dict[str, Value] = field(default_factory=dict)
    tensors: dict[str, Tensor] = field(default_factory=dict)
    alignment: int = DEFAULT_ALIGNMENT

    def get(self, key: str, default: Any = None) -> Any:
        """The plain Python value of a metadata key."""
        v = self.metadata.get(key)
        return default if v is None else v.value

    def require(self, key: str) -> Any:
        v = self.metadata.get(key)
        if v is None:
            raise GGUFError(f"missing metadata key {key!r}")
        return v.value

    def array(self, name: str) -> np.ndarray:
        """A tensor's data as float32 (F16 is widened: training and merging run in float32)."""
        t = self.tensors.get(name)
        if t is None:
            raise GGUFError(f"missing tensor {name!r}")
        return t.values()


# ---------------------------------------------------------------- reading


class _Reader:
    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.buf):
            raise GGUFError(f"truncated file: need {n} bytes at offset {self.pos}")
        out = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return out

    def scalar(self, t: ValueType) -> Any:
        fmt = "<" + _SCALAR_FMT[t]
        (v,) = struct.unpack(fmt, self.take(struct.calcsize(fmt)))
        return v

    def string(self) -> str:
        n = self.scalar(ValueType.UINT64)
        raw = self.take(n)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise GGUFError(f"string at offset {self.pos - n} is not UTF-8") from e

    def value_type(self) -> ValueType:
        raw = self.scalar(ValueType.UINT32)
        try:
            return ValueType(raw)
        except ValueError as e:
            raise GGUFError(f"unknown metadata value type {raw}") from e

    def value(self, t: ValueType) -> Value:
        if t == ValueType.STRING:
            return Value(t, self.string())
        if t == ValueType.ARRAY:
            item_type = self.value_type()
            n = self.scalar(ValueType.UINT64)
            if item_type == ValueType.ARRAY:
                items = [self.value(self.value_type()) for _ in range(n)]
            elif item_type == ValueType.STRING:
                items = [self.string() for _ in range(n)]
            else:
                fmt = "<" + _SCALAR_FMT[item_type] * n
                items = list(struct.unpack(fmt, self.take(struct.calcsize(fmt))))
            return Value(t, items, item_type)
        return Value(t, self.scalar(t))


def _align(offset: int, alignment: int) -> int:
    return (offset + alignment - 1) // alignment * alignment


def read_gguf(path: str | Path) -> GGUFFile:
    """Memory-mapped: packed tensors stay views of the file until they are moved to a device."""
    if Path(path).stat().st_size == 0:
        raise GGUFError("not a GGUF file (empty)")
    return parse_gguf(np.memmap(path, dtype=np.uint8, mode="r"))


def parse_gguf(buf: bytes | np.ndarray) -> GGUFFile:
    r = _Reader(buf)
    if r.take(4) != MAGIC:
        raise GGUFError("not a GGUF file (bad magic)")
    version = r.scalar(ValueType.UINT32)
    if version != VERSION:
        raise GGUFError(f"unsupported GGUF version {version} (this reader handles v{VERSION})")
    n_tensors = r.scalar(ValueType.UINT64)
    n_kv = r.scalar(ValueType.UINT64)

    metadata: dict[str, Value] = {}
    for _ in range(n_kv):
        key = r.string()
        if key in metadata:
            raise GGUFError(f"duplicate metadata key {key!r}")
        metadata[key] = r.value(r.value_type())

    alignment = DEFAULT_ALIGNMENT
    if "general.alignment" in metadata:
        alignment = int(metadata["general.alignment"].value)
        if alignment <= 0 or alignment & (alignment - 1):
            raise GGUFError(f"general.alignment must be a power of two, got {alignment}")

    infos: list[tuple[str, tuple[int, ...], TensorType, int]] = []
    for _ in range(n_tensors):
        name = r.string()
        n_dims = r.scalar(ValueType.UINT32)
        ne = tuple(r.scalar(ValueType.UINT64) for _ in range(n_dims))
        raw_type = r.scalar(ValueType.UINT32)
        try:
            ttype = TensorType(raw_type)
        except ValueError as e:
            known = ", ".join(t.name for t in TensorType)
            raise GGUFError(f"tensor {name!r}: ggml type {raw_type} is not supported (known: {known})") from e
        offset = r.scalar(ValueType.UINT64)
        if offset % alignment:
            raise GGUFError(f"tensor {name!r}: offset {offset} is not aligned to {alignment}")
        infos.append((name, ne, ttype, offset))

    data_start = _align(r.pos, alignment)
    tensors: dict[str, Tensor] = {}
    for name, ne, ttype, offset in infos:
        start = data_start + offset
        shape = tuple(reversed(ne))
        if ttype in QUANTIZED:
            try:
                rb = row_bytes(ttype, ne[0] if ne else 1)
            except ValueError as e:
                raise GGUFError(f"tensor {name!r}: {e}") from e
            rows = int(np.prod(ne[1:], dtype=np.int64))
            if start + rows * rb > len(buf):
                raise GGUFError(f"tensor {name!r} runs past the end of the file")
            data = np.frombuffer(buf, dtype=np.uint8, count=rows * rb, offset=start).reshape(*shape[:-1], rb)
        else:
            dtype = _TENSOR_DTYPE[ttype]
            count = int(np.prod(ne, dtype=np.int64)) if ne else 1
            if start + count * dtype.itemsize > len(buf):
                raise GGUFError(f"tensor {name!r} runs past the end of the file")
            data = np.frombuffer(buf, dtype=dtype, count=count, offset=start).reshape(shape).copy()
        if name in tensors:
            raise GGUFError(f"duplicate tensor {name!r}")
        tensors[name] = Tensor(name, data, ttype)
    return GGUFFile(metadata, tensors, alignment)


# ---------------------------------------------------------------- writing


def _pack_string(s: str) -> bytes:
    raw = s.encode("utf-8")
    return struct.pack("<Q", len(raw)) + raw


def _pack_scalar(t: ValueType, v: Any) -> bytes:
    try:
        return struct.pack("<" + _SCALAR_FMT[t], v)
    except struct.error as e:
        raise GGUFError(f"value {v!r} does not fit {t.name}") from e


def _pack_value(v: Value) -> bytes:
    if v.type == ValueType.STRING:
        return _pack_string(v.value)
    if v.type == ValueType.ARRAY:
        assert v.item_type is not None
        out = [struct.pack("<IQ", v.item_type, len(v.value))]
        for item in v.value:
            if v.item_type == ValueType.ARRAY:
                if not isinstance(item, Value):
                    raise GGUFError("items of a nested array must be gguf.Value")
                out.append(struct.pack("<I", item.type) + _pack_value(item))
            elif v.item_type == ValueType.STRING:
                out.append(_pack_string(item))
            else:
                out.append(_pack_scalar(v.item_type, item))
        return b"".join(out)
    return _pack_scalar(v.type, v.value)


def _as_tensor(name: str, t: Tensor | np.ndarray) -> Tensor:
    if isinstance(t, Tensor):
        return t
    arr = np.asarray(t)
    ttype = TensorType.F16 if arr.dtype == np.float16 else TensorType.F32
    return Tensor(name, arr, ttype)


def serialize_gguf(
    metadata: Mapping[str, Any],
    tensors: Mapping[str, Tensor | np.ndarray],
    alignment: int = DEFAULT_ALIGNMENT,
) -> bytes:
    meta = {k: infer_value(v) for k, v in metadata.items()}
    if "general.alignment" in meta:
        alignment = int(meta["general.alignment"].value)
    if alignment <= 0 or alignment & (alignment - 1):
        raise GGUFError(f"alignment must be a power of two, got {alignment}")

    head = io.BytesIO()
    head.write(MAGIC)
    head.write(struct.pack("<IQQ", VERSION, len(tensors), len(meta)))
    for key, v in meta.items():
        head.write(_pack_string(key))
        head.write(struct.pack("<I", v.type))
        head.write(_pack_value(v))

    blobs: list[bytes] = []
    offset = 0
    for name, raw in tensors.items():
        t = _as_tensor(name, raw)
        try:
            data = t.blocks()
        except ValueError as e:
            raise GGUFError(f"tensor {name!r}: {e}") from e
        head.write(_pack_string(name))
        head.write(struct.pack("<I", len(t.ne)))
        for n in t.ne:
            head.write(struct.pack("<Q", n))
        head.write(struct.pack("<IQ", t.type, offset))
        blob = np.ascontiguousarray(data).tobytes()
        padded = _align(len(blob), alignment)
        blobs.append(blob + b"\0" * (padded - len(blob)))
        offset += padded

    header = head.getvalue()
    header += b"\0" * (_align(len(header), alignment) - len(header))
    return header + b"".join(blobs)


def write_gguf(
    path: str | Path,
    metadata: Mapping[str, Any],
    tensors: Mapping[str, Tensor | np.ndarray],
    alignment: int = DEFAULT_ALIGNMENT,
) -> None:
    """Write atomically (temp file + rename) so a reader never sees half a model."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(serialize_gguf(metadata, tensors, alignment))
    tmp.replace(path)
