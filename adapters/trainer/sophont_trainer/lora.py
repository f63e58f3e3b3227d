"""LoRA pairs, their weight deltas, SVD re-factoring, and the GGUF LoRA adapter format.

Conventions (the same as PEFT and as llama.cpp's adapter loader, src/llama-adapter.cpp):
for a base weight W of numpy shape [out, in] (ggml ne = [in, out]),
  A (`<name>.lora_a`) has numpy shape [rank, in]   (ggml ne = [in, rank]),
  B (`<name>.lora_b`) has numpy shape [out, rank]  (ggml ne = [rank, out]),
and the delta is  dW = (alpha / rank) * B @ A,  where llama.cpp takes rank from B (ne[0]) and uses a
scale of 1 when alpha is 0. The token embedding is the one tensor llama.cpp treats with A and B
flipped; it is never a target here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import torch

from . import gguf
from .gguf import GGUFError


@dataclass
class LoraPair:
    a: torch.Tensor  # [rank, in]
    b: torch.Tensor  # [out, rank]


@dataclass
class LoraSet:
    """All LoRA pairs of one adapter, keyed by the base tensor's GGUF name."""

    rank: int
    alpha: float
    pairs: dict[str, LoraPair] = field(default_factory=dict)

    @property
    def scale(self) -> float:
        return lora_scale(self.alpha, self.rank)

    def parameters(self) -> list[torch.Tensor]:
        return [t for p in self.pairs.values() for t in (p.a, p.b)]

    def to(self, device: torch.device) -> "LoraSet":
        for p in self.pairs.values():
            p.a.data = p.a.data.to(device)
            p.b.data = p.b.data.to(device)
        return self

    def deltas(self) -> dict[str, torch.Tensor]:
        return {name: lora_delta(p.a, p.b, self.scale) for name, p in self.pairs.items()}


def lora_scale(alpha: float, rank: int) -> float:
    # mirrors llama_adapter_lora_weight::get_scale
    return alpha / rank if alpha else 1.0


def lora_delta(a: torch.Tensor, b: torch.Tensor, scale: float) -> torch.Tensor:
    """The full weight delta dW = scale * B @ A, shape [out, in]."""
    return scale * (b.detach().float() @ a.detach().float())


def init_lora(
    shapes: Mapping[str, tuple[int, int]], rank: int, alpha: float, generator: torch.Generator
) -> LoraSet:
    """A ~ U(-1/sqrt(in), 1/sqrt(in)) like PEFT's default, B = 0 so the adapter starts as a no-op."""
    pairs: dict[str, LoraPair] = {}
    for name in sorted(shapes):  # sorted: the random draws must not depend on dict order
        n_out, n_in = shapes[name]
        bound = 1.0 / math.sqrt(n_in)
        a = (torch.rand(rank, n_in, generator=generator) * 2 - 1) * bound
        b = torch.zeros(n_out, rank)
        pairs[name] = LoraPair(a.requires_grad_(True), b.requires_grad_(True))
    return LoraSet(rank, alpha, pairs)


@dataclass(frozen=True)
class Refactored:
    a: torch.Tensor
    b: torch.Tensor
    error_sq: float  # ||dW - scale*B@A||_F^2
    norm_sq: float  # ||dW||_F^2

    @property
    def relative_error(self) -> float:
        return math.sqrt(self.error_sq / self.norm_sq) if self.norm_sq > 0 else 0.0


def refactor(delta: torch.Tensor, rank: int, alpha: float) -> Refactored:
    """Best rank-r LoRA (Eckart-Young: truncated SVD) whose scaled product approximates delta.

    The singular values are split evenly between A and B (sqrt on each side) to keep both factors
    on a similar scale. When min(out, in) < rank, the extra rows/columns are zero so every tensor of
    the adapter keeps the same rank (llama.cpp derives the scale from each B's rank)."""
    d = delta.double()
    scale = lora_scale(alpha, rank)
    u, s, vh = torch.linalg.svd(d, full_matrices=False)
    r = min(rank, s.numel())
    root = s[:r].sqrt() / math.sqrt(scale)
    b = torch.zeros(d.shape[0], rank, dtype=torch.float64, device=d.device)
    a = torch.zeros(rank, d.shape[1], dtype=torch.float64, device=d.device)
    b[:, :r] = u[:, :r] * root
    a[:r] = root[:, None] * vh[:r]
    a32, b32 = a.float(), b.float()
    approx = scale * (b32.double() @ a32.double())
    err = float((d - approx).pow(2).sum())
    return Refactored(a32, b32, err, float(d.pow(2).sum()))


# ---------------------------------------------------------------- GGUF adapter files


@dataclass
class AdapterFile:
    alpha: float
    rank: int
    pairs: dict[str, tuple[np.ndarray, np.ndarray]]  # name -> (A [r, in], B [out, r])
    metadata: dict[str, Any]

    def deltas(self) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        for name, (a, b) in self.pairs.items():
            # the scale is per pair in llama.cpp (its rank is B's), so honour that here too
            out[name] = lora_delta(torch.from_numpy(a), torch.from_numpy(b), lora_scale(self.alpha, b.shape[1]))
        return out


def write_adapter(
    path: str | Path,
    alpha: float,
    pairs: Mapping[str, tuple[np.ndarray, np.ndarray]],
    extra_metadata: Mapping[str, Any] | None = None,
    architecture: str = "llama",
) -> None:
    meta: dict[str, Any] = {
        "general.architecture": gguf.string(architecture),
        "general.type": gguf.string("adapter"),
        "adapter.type": gguf.string("lora"),
        "adapter.lora.alpha": gguf.f32(alpha),
    }
    meta.update(extra_metadata or {})
    tensors: dict[str, np.ndarray] = {}
    for name in sorted(pairs):
        a, b = pairs[name]
        if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[1]:
            raise GGUFError(f"LoRA pair {name!r}: A {a.shape} and B {b.shape} do not chain")
        tensors[name + ".lora_a"] = np.ascontiguousarray(a, dtype=np.float32)
        tensors[name + ".lora_b"] = np.ascontiguousarray(b, dtype=np.float32)
    gguf.write_gguf(path, meta, tensors)


def read_adapter(
    path: str | Path, base_shapes: Mapping[str, tuple[int, ...]] | None = None, architecture: str = "llama"
) -> AdapterFile:
    """Read and check a GGUF LoRA the way llama.cpp would, so a bad file fails here, not at load."""
    g = gguf.read_gguf(path)
    where = str(path)
    if g.get("general.type") != "adapter" or g.get("adapter.type") != "lora":
        raise GGUFError(f"{where}: not a LoRA adapter (general.type/adapter.type)")
    if g.get("general.architecture") != architecture:
        raise GGUFError(f"{where}: architecture {g.get('general.architecture')!r} != {architecture!r}")
    alpha = float(g.get("adapter.lora.alpha", 0.0))
    halves: dict[str, dict[str, np.ndarray]] = {}
    for tname, t in g.tensors.items():
        for suffix in (".lora_a", ".lora_b"):
            if tname.endswith(suffix):
                halves.setdefault(tname[: -len(suffix)], {})[suffix] = t.data.astype(np.float32)
                break
        else:
            if not tname.endswith("_norm.weight"):  # llama.cpp skips those too
                raise GGUFError(f"{where}: tensor {tname!r} has an unexpected suffix")
    pairs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    ranks: set[int] = set()
    for name, h in halves.items():
        if len(h) != 2:
            raise GGUFError(f"{where}: LoRA pair for {name!r} is missing one component")
        a, b = h[".lora_a"], h[".lora_b"]
        if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[1]:
            raise GGUFError(f"{where}: {name!r}: A {a.shape} / B {b.shape} do not chain")
        if base_shapes is not None:
            if name not in base_shapes:
                raise GGUFError(f"{where}: {name!r} does not exist in the base model")
            if tuple(base_shapes[name]) != (b.shape[0], a.shape[1]):
                raise GGUFError(f"{where}: {name!r} has shape {(b.shape[0], a.shape[1])}, base is {base_shapes[name]}")
        pairs[name] = (a, b)
        ranks.add(a.shape[0])
    rank = max(ranks) if ranks else 0
    meta = {k: v.value for k, v in g.metadata.items()}
    return AdapterFile(alpha, rank, pairs, meta)


class LoraSwitch:
    """The on/off switch both back-ends share: off, the model is its frozen base (the DPO reference)."""

    lora_enabled: bool = True

    @contextmanager
    def lora_disabled(self) -> Iterator[None]:
        prev = self.lora_enabled
        self.lora_enabled = False
        try:
            yield
        finally:
            self.lora_enabled = prev
