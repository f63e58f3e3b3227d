"""A base weight that stays packed on the device and is dequantized where it is used (QLoRA-style).

`linear` multiplies by the dequantized weight inside an autograd function that keeps only the packed
bytes for the backward pass and dequantizes again there: the full-precision copy of a weight lives for
one matmul, never across the forward, so a quantized base costs its own bytes plus one tensor in flight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .gguf import GGUFError, Tensor
from .quants import QUANTIZED, GGMLType, activation_round, dequantize


@dataclass
class QWeight:
    data: torch.Tensor  # float32 / float16 values, or packed uint8 blocks [..., row bytes]
    type: GGMLType
    shape: tuple[int, ...]  # logical numpy shape

    @staticmethod
    def from_tensor(t: Tensor, device: torch.device) -> "QWeight":
        if t.type in QUANTIZED:
            blocks = np.array(t.blocks())  # a copy: the file's mapping is read-only
            return QWeight(torch.from_numpy(blocks).to(device), t.type, t.shape)
        if t.type == GGMLType.F16:
            return QWeight(torch.from_numpy(np.array(t.data)).to(device), t.type, t.shape)
        return QWeight(torch.from_numpy(t.data.astype(np.float32)).to(device), GGMLType.F32, t.shape)

    @property
    def packed(self) -> bool:
        return self.type in QUANTIZED

    def full(self) -> torch.Tensor:
        """The whole weight in float32 (only for what is small or used at once)."""
        if self.packed:
            return dequantize(self.data, self.type, self.shape[-1])
        return self.data.float()

    def rows(self, index: torch.Tensor) -> torch.Tensor:
        """Selected rows (an embedding lookup) without dequantizing the rest."""
        picked = self.data[index]
        return dequantize(picked, self.type, self.shape[-1]) if self.packed else picked.float()

    def slice(self, i: int) -> "QWeight":
        """One entry along the first axis (one expert of an expert tensor)."""
        return QWeight(self.data[i], self.type, self.shape[1:])

    def nbytes(self) -> int:
        return self.data.numel() * self.data.element_size()


class _Linear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, w: QWeight) -> torch.Tensor:  # type: ignore[override]
        ctx.w = w
        ctx.x_dtype = x.dtype
        return x @ w.full().T  # under autocast (bf16 on a GPU) the product runs in bf16

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        # the backward runs outside autocast: match the gradient's dtype, hand back the input's
        return (grad @ ctx.w.full().to(grad.dtype)).to(ctx.x_dtype), None


def linear(x: torch.Tensor, w: QWeight, cpu_rounding: bool = False) -> torch.Tensor:
    """x @ W.T. With `cpu_rounding`, x is first rounded as llama.cpp's CPU back-end rounds the
    activations of a matmul with this weight type (for comparing logits, not for training)."""
    if len(w.shape) != 2 or x.shape[-1] != w.shape[1]:
        raise GGUFError(f"a weight of shape {w.shape} cannot multiply activations of width {x.shape[-1]}")
    if cpu_rounding:
        x = activation_round(x, w.type)
    if w.type == GGMLType.F32:
        return x @ w.data.T
    return _Linear.apply(x, w)
