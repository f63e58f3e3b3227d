"""ggml quantization types: block layouts, quantizing (numpy, for writing test models) and
dequantizing (torch, on the fly in the forward, so the base stays packed in memory).

Layouts follow ggml-common.h (read for understanding, written anew here). Every quantized row is a
sequence of blocks; a tensor of numpy shape [..., n] is stored as uint8 [..., n / block * bytes].

  Q8_0   32 values, 34 B: f16 d, int8 q[32];                       x = d * q
  Q4_K  256 values, 144 B: f16 d, f16 dmin, 12 B of 6-bit (scale, min) for 8 sub-blocks of 32,
        128 B of nibbles (byte l of chunk c holds values 64c+l (low) and 64c+32+l (high));
                                                                  x = d*sc*q - dmin*m
  Q5_K  256 values, 176 B: as Q4_K plus 32 B of fifth bits (bit 2c / 2c+1 of byte l for the two
        halves of chunk c) between the scales and the nibbles
  Q6_K  256 values, 210 B: 128 B low nibbles, 64 B high 2-bit pairs, int8 scales for 16
        sub-blocks of 16, f16 d;                                  x = d * sc * (q - 32)
  MXFP4  32 values, 17 B: E8M0 exponent e, 16 B of FP4 (E2M1) codes (low nibbles: values 0..15,
        high: 16..31);                                            x = 2^(e-128) * kvalues[code]
  BF16  the upper half of an f32.

`activation_round` reproduces what llama.cpp's CPU back-end does to the *activations* of a matmul
with such a weight (it converts them to the type's `vec_dot_type` first: F16 -> F16, BF16 -> BF16,
Q8_0 and MXFP4 -> Q8_0, the K-quants -> Q8_K), so logits can be compared tightly.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import torch


class GGMLType(enum.IntEnum):
    F32 = 0
    F16 = 1
    Q8_0 = 8
    Q4_K = 12
    Q5_K = 13
    Q6_K = 14
    BF16 = 30
    MXFP4 = 39


@dataclass(frozen=True)
class Layout:
    block: int  # values per block
    bytes: int  # bytes per block
    act: str  # what llama.cpp's CPU matmul turns the activations into ("f32", "f16", "bf16", "q8_0", "q8_k")


LAYOUTS: dict[GGMLType, Layout] = {
    GGMLType.F32: Layout(1, 4, "f32"),
    GGMLType.F16: Layout(1, 2, "f16"),
    GGMLType.BF16: Layout(1, 2, "bf16"),
    GGMLType.Q8_0: Layout(32, 34, "q8_0"),
    GGMLType.Q4_K: Layout(256, 144, "q8_k"),
    GGMLType.Q5_K: Layout(256, 176, "q8_k"),
    GGMLType.Q6_K: Layout(256, 210, "q8_k"),
    GGMLType.MXFP4: Layout(32, 17, "q8_0"),
}

QUANTIZED = frozenset(t for t, l in LAYOUTS.items() if l.block > 1) | {GGMLType.BF16}
# E2M1 values doubled, as ggml's kvalues_mxfp4 (the exponent is halved to match)
FP4_VALUES = np.array([0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12], dtype=np.float32)


def row_bytes(t: GGMLType, n: int) -> int:
    lay = LAYOUTS[t]
    if n % lay.block:
        raise ValueError(f"{t.name} needs rows that are a multiple of {lay.block} values, this one has {n}")
    return n // lay.block * lay.bytes


# ---------------------------------------------------------------- quantizing (numpy)


def _f16_bytes(v: np.ndarray) -> np.ndarray:
    return v.astype("<f2").reshape(-1, 1).view(np.uint8)


def _f16_round(v: np.ndarray) -> np.ndarray:
    return v.astype(np.float16).astype(np.float32)


def _safe_inv(v: np.ndarray) -> np.ndarray:
    out = np.zeros_like(v)
    np.divide(1.0, v, out=out, where=v != 0)
    return out


def _q8_0(x: np.ndarray) -> np.ndarray:
    b = x.reshape(-1, 32)
    d = np.abs(b).max(1) / 127
    q = np.clip(np.rint(b * _safe_inv(d)[:, None]), -127, 127).astype(np.int8)
    return np.concatenate([_f16_bytes(d), q.view(np.uint8)], 1)


def _pack_scales_k(sc: np.ndarray, m: np.ndarray) -> np.ndarray:
    """8 six-bit (scale, min) pairs per super-block -> 12 bytes (get_scale_min_k4's inverse)."""
    out = np.zeros((sc.shape[0], 12), dtype=np.uint8)
    out[:, 0:4] = sc[:, 0:4] | ((sc[:, 4:8] >> 4) << 6)
    out[:, 4:8] = m[:, 0:4] | ((m[:, 4:8] >> 4) << 6)
    out[:, 8:12] = (sc[:, 4:8] & 0xF) | ((m[:, 4:8] & 0xF) << 4)
    return out


def _affine_k(x: np.ndarray, levels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Q4_K/Q5_K: per sub-block of 32 an affine grid [−min, max] with `levels` steps, its scale and
    min quantized to 6 bits against per-super-block f16 factors."""
    b = x.reshape(-1, 8, 32)
    lo = np.minimum(b.min(2), 0.0)
    scale = (b.max(2) - lo) / levels
    mins = -lo
    d = scale.max(1) / 63
    dmin = mins.max(1) / 63
    sc = np.clip(np.rint(scale * _safe_inv(d)[:, None]), 0, 63).astype(np.uint8)
    m = np.clip(np.rint(mins * _safe_inv(dmin)[:, None]), 0, 63).astype(np.uint8)
    eff_d = _f16_round(d)[:, None] * sc
    eff_m = _f16_round(dmin)[:, None] * m
    q = np.clip(np.rint((b + eff_m[:, :, None]) * _safe_inv(eff_d)[:, :, None]), 0, levels).astype(np.uint8)
    return q.reshape(-1, 256), d, dmin, sc, m


def _nibbles_k(q: np.ndarray) -> np.ndarray:
    c = q.reshape(-1, 4, 2, 32)
    return ((c[:, :, 0] & 0xF) | ((c[:, :, 1] & 0xF) << 4)).reshape(-1, 128)


def _q4_k(x: np.ndarray) -> np.ndarray:
    q, d, dmin, sc, m = _affine_k(x, 15)
    return np.concatenate([_f16_bytes(d), _f16_bytes(dmin), _pack_scales_k(sc, m), _nibbles_k(q)], 1)


def _q5_k(x: np.ndarray) -> np.ndarray:
    q, d, dmin, sc, m = _affine_k(x, 31)
    hi = (q >> 4).reshape(-1, 4, 2, 32).astype(np.uint8)
    shifts = (np.arange(4)[:, None] * 2 + np.arange(2)[None, :]).astype(np.uint8)  # bit 2c + half
    qh = (hi << shifts[None, :, :, None]).sum((1, 2)).astype(np.uint8)
    return np.concatenate([_f16_bytes(d), _f16_bytes(dmin), _pack_scales_k(sc, m), qh, _nibbles_k(q)], 1)


def _q6_k(x: np.ndarray) -> np.ndarray:
    b = x.reshape(-1, 16, 16)
    amax_i = np.abs(b).argmax(2)
    peak = np.take_along_axis(b, amax_i[:, :, None], 2)[:, :, 0]
    s = -peak / 32  # the largest value maps to -32, the one end of the grid with room
    smax_i = np.abs(s).argmax(1)
    speak = np.take_along_axis(s, smax_i[:, None], 1)[:, 0]
    d = -speak / 128
    sc = np.clip(np.rint(s * _safe_inv(d)[:, None]), -128, 127).astype(np.int8)
    eff = _f16_round(d)[:, None] * sc
    q = (np.clip(np.rint(b * _safe_inv(eff)[:, :, None]), -32, 31) + 32).astype(np.uint8).reshape(-1, 2, 4, 32)
    ql = ((q[:, :, 0:2] & 0xF) | ((q[:, :, 2:4] & 0xF) << 4)).reshape(-1, 128)
    qh = ((q[:, :, 0] >> 4) | ((q[:, :, 1] >> 4) << 2) | ((q[:, :, 2] >> 4) << 4) | ((q[:, :, 3] >> 4) << 6)).reshape(-1, 64)
    return np.concatenate([ql, qh.astype(np.uint8), sc.view(np.uint8), _f16_bytes(d)], 1)


def _mxfp4(x: np.ndarray) -> np.ndarray:
    b = x.reshape(-1, 32)
    amax = np.abs(b).max(1)
    # the smallest power of two d with amax / d <= 12 (the largest doubled E2M1 value)
    e = np.where(amax > 0, np.ceil(np.log2(np.maximum(amax, 1e-30) / 12)), -127) + 128
    e = np.clip(e, 2, 254).astype(np.int32)
    d = np.exp2(e.astype(np.float64) - 128).astype(np.float32)
    v = b / d[:, None]
    codes = np.abs(v[:, :, None] - FP4_VALUES[None, None, :]).argmin(2).astype(np.uint8)
    return np.concatenate([e.astype(np.uint8)[:, None], codes[:, :16] | (codes[:, 16:] << 4)], 1)


def _bf16(x: np.ndarray) -> np.ndarray:
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    return r.reshape(-1, 1).view(np.uint8)


_QUANTIZE = {GGMLType.Q8_0: _q8_0, GGMLType.Q4_K: _q4_k, GGMLType.Q5_K: _q5_k, GGMLType.Q6_K: _q6_k,
             GGMLType.MXFP4: _mxfp4, GGMLType.BF16: _bf16}


def quantize(x: np.ndarray, t: GGMLType) -> np.ndarray:
    """float array [..., n] -> packed uint8 [..., row_bytes(t, n)]."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    n = x.shape[-1]
    rb = row_bytes(t, n)
    packed = _QUANTIZE[t](x.reshape(-1, n))
    return np.ascontiguousarray(packed).reshape(*x.shape[:-1], rb)


# ---------------------------------------------------------------- dequantizing (torch)


def _f16(b: torch.Tensor) -> torch.Tensor:
    return b.contiguous().view(torch.float16).float()


def _scales_k(s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    s = s.int()
    sc = torch.cat([s[:, 0:4] & 63, (s[:, 8:12] & 0xF) | ((s[:, 0:4] >> 6) << 4)], 1)
    m = torch.cat([s[:, 4:8] & 63, (s[:, 8:12] >> 4) | ((s[:, 4:8] >> 6) << 4)], 1)
    return sc.float(), m.float()


def _low_high(qs: torch.Tensor) -> torch.Tensor:
    """128 nibble bytes -> 256 values in order (chunk c: 32 low nibbles, then 32 high)."""
    c = qs.int().view(-1, 4, 1, 32)
    return torch.cat([c & 0xF, c >> 4], 2).view(-1, 8, 32)


def _affine(q: torch.Tensor, blk: torch.Tensor, sc: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    d, dmin = _f16(blk[:, 0:2]), _f16(blk[:, 2:4])
    d1 = d * sc  # the same float32 products as ggml's d1/m1
    m1 = dmin * m
    return (d1[:, :, None] * q.float() - m1[:, :, None]).view(-1, 256)


def _dq_q8_0(blk: torch.Tensor) -> torch.Tensor:
    return _f16(blk[:, 0:2]) * blk[:, 2:].contiguous().view(torch.int8).float()


def _dq_q4_k(blk: torch.Tensor) -> torch.Tensor:
    sc, m = _scales_k(blk[:, 4:16])
    return _affine(_low_high(blk[:, 16:144]), blk, sc, m)


def _dq_q5_k(blk: torch.Tensor) -> torch.Tensor:
    sc, m = _scales_k(blk[:, 4:16])
    qh = blk[:, 16:48].int().view(-1, 1, 32)
    bit = torch.arange(8, device=blk.device, dtype=torch.int32).view(1, 8, 1)
    high = ((qh >> bit) & 1) << 4
    return _affine(_low_high(blk[:, 48:176]) | high, blk, sc, m)


def _dq_q6_k(blk: torch.Tensor) -> torch.Tensor:
    ql = blk[:, 0:128].int().view(-1, 2, 2, 32)
    qh = blk[:, 128:192].int().view(-1, 2, 1, 32)
    sc = blk[:, 192:208].contiguous().view(torch.int8).float().view(-1, 16, 1)
    d = _f16(blk[:, 208:210]).view(-1, 1, 1)
    low = torch.cat([ql & 0xF, ql >> 4], 2)  # [n, half, 4 quarters, 32]: quarters 0,1 low; 2,3 high nibbles
    shift = torch.arange(4, device=blk.device, dtype=torch.int32).view(1, 1, 4, 1) * 2
    q = (low | (((qh >> shift) & 3) << 4)) - 32
    return ((d * sc) * q.float().view(-1, 16, 16)).view(-1, 256)


def _dq_mxfp4(blk: torch.Tensor) -> torch.Tensor:
    e = blk[:, 0].int()
    # 2^(e-128) as float bits, the denormal cases as ggml writes them
    bits = torch.where(e < 2, torch.tensor(0x00200000, dtype=torch.int32, device=blk.device) << e, (e - 1) << 23)
    d = bits.view(torch.float32)
    qs = blk[:, 1:17].long()
    table = torch.from_numpy(FP4_VALUES).to(blk.device)
    codes = torch.cat([qs & 0xF, qs >> 4], 1)
    return table[codes] * d[:, None]


def _dq_bf16(blk: torch.Tensor) -> torch.Tensor:
    hi = blk.contiguous().view(torch.int16).int() & 0xFFFF
    return (hi << 16).view(torch.float32)


_DEQUANTIZE = {GGMLType.Q8_0: _dq_q8_0, GGMLType.Q4_K: _dq_q4_k, GGMLType.Q5_K: _dq_q5_k, GGMLType.Q6_K: _dq_q6_k,
               GGMLType.MXFP4: _dq_mxfp4, GGMLType.BF16: _dq_bf16}


def dequantize(packed: torch.Tensor, t: GGMLType, n: int) -> torch.Tensor:
    """packed uint8 [..., row_bytes] -> float32 [..., n]."""
    if t == GGMLType.F32:
        return packed.float()
    if t == GGMLType.F16:
        return packed.float()
    lay = LAYOUTS[t]
    lead = packed.shape[:-1]
    blocks = packed.reshape(-1, lay.bytes)
    return _DEQUANTIZE[t](blocks).reshape(*lead, n)


# ---------------------------------------------------------------- llama.cpp's activation rounding


def _round_q8_0(x: torch.Tensor) -> torch.Tensor:
    b = x.reshape(-1, 32)
    d = b.abs().amax(1) / 127
    inv = torch.where(d > 0, 1.0 / d, torch.zeros_like(d))
    q = torch.round(b * inv[:, None])
    return (q * d.half().float()[:, None]).reshape(x.shape)


def _round_q8_k(x: torch.Tensor) -> torch.Tensor:
    b = x.reshape(-1, 256)
    idx = b.abs().argmax(1, keepdim=True)
    peak = b.gather(1, idx)[:, 0]
    iscale = torch.where(peak != 0, -127.0 / peak, torch.zeros_like(peak))
    q = torch.round(iscale[:, None] * b).clamp(max=127)
    d = torch.where(peak != 0, 1.0 / iscale, torch.zeros_like(peak))
    return (q * d[:, None]).reshape(x.shape)


def activation_round(x: torch.Tensor, t: GGMLType) -> torch.Tensor:
    """x as llama.cpp's CPU matmul sees it when multiplying by a weight of type `t`."""
    act = LAYOUTS[t].act
    if act == "f32":
        return x
    if act == "f16":
        return x.half().float()
    if act == "bf16":
        return x.bfloat16().float()
    n = x.shape[-1]
    flat = x.reshape(-1, n)
    return (_round_q8_0(flat) if act == "q8_0" else _round_q8_k(flat)).reshape(x.shape)
