"""TIES merging (Yadav et al., 2023) on full weight deltas.

Each adapter contributes, per base tensor, its task vector dW = scale * B @ A. Merging the A and B
factors separately is wrong (the product of averages is not the average of products, and sign
election on factors is meaningless since (B, A) and (-B, -A) are the same adapter), so every step
here runs on dW, and the merged dW is factored back into a rank-r LoRA afterwards (lora.refactor).

Trimming is per tensor: the top k% of each task vector's entries of that tensor by magnitude.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import torch

from .lora import Refactored, refactor


def trim_top_k(tv: torch.Tensor, k_percent: float) -> torch.Tensor:
    """Keep the ceil(k% * n) entries of largest magnitude, zero the rest."""
    if not 0 < k_percent <= 100:
        raise ValueError(f"ties k must be a percentage in (0, 100], got {k_percent}")
    flat = tv.flatten()
    n_keep = max(1, math.ceil(flat.numel() * k_percent / 100.0))
    if n_keep >= flat.numel():
        return tv.clone()
    idx = flat.abs().topk(n_keep, sorted=False).indices
    out = torch.zeros_like(flat)
    out[idx] = flat[idx]
    return out.view_as(tv)


def elect_sign(trimmed: torch.Tensor) -> torch.Tensor:
    """trimmed: [n_tasks, ...] -> the sign (+1/-1/0) of the summed values per parameter."""
    return trimmed.sum(0).sign()


def disjoint_mean(trimmed: torch.Tensor, sign: torch.Tensor) -> torch.Tensor:
    """Mean over the tasks whose (non-zero) value agrees with the elected sign; 0 where none does."""
    agree = (trimmed.sign() == sign.unsqueeze(0)) & (trimmed != 0)
    total = (trimmed * agree).sum(0)
    count = agree.sum(0)
    return torch.where(count > 0, total / count.clamp(min=1), torch.zeros_like(total))


def ties_merge(task_vectors: Sequence[torch.Tensor], k_percent: float, lam: float) -> torch.Tensor:
    if not task_vectors:
        raise ValueError("nothing to merge")
    trimmed = torch.stack([trim_top_k(tv.float(), k_percent) for tv in task_vectors])
    return lam * disjoint_mean(trimmed, elect_sign(trimmed))


@dataclass
class MergeResult:
    pairs: dict[str, Refactored]
    relative_error: float  # over all tensors: sqrt(sum err^2 / sum ||dW||^2)
    max_tensor_error: float

    def numpy_pairs(self) -> dict[str, tuple]:
        return {n: (r.a.cpu().numpy(), r.b.cpu().numpy()) for n, r in self.pairs.items()}


def merge_deltas(
    adapters: Sequence[Mapping[str, torch.Tensor]],
    k_percent: float,
    lam: float,
    rank: int,
    alpha: float,
    device: torch.device | None = None,
) -> MergeResult:
    """TIES-merge per tensor name (a name an adapter lacks counts as a zero task vector for it),
    then re-factor each merged delta into a rank-`rank` LoRA with the given alpha."""
    names = sorted({n for a in adapters for n in a})
    pairs: dict[str, Refactored] = {}
    err_sq = norm_sq = 0.0
    worst = 0.0
    for name in names:
        shape = next(a[name].shape for a in adapters if name in a)
        tvs = [a[name].to(device) if name in a else torch.zeros(shape, device=device) for a in adapters]
        merged = ties_merge(tvs, k_percent, lam)
        r = refactor(merged, rank, alpha)
        pairs[name] = r
        err_sq += r.error_sq
        norm_sq += r.norm_sq
        worst = max(worst, r.relative_error)
    rel = math.sqrt(err_sq / norm_sq) if norm_sq > 0 else 0.0
    return MergeResult(pairs, rel, worst)
