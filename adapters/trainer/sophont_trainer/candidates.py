"""Candidate adapters: ways of combining the serving adapter with the micro-adapter trained on top of it.

The micro-adapter was trained with the serving adapter applied and frozen, so its task vector
tau_new is a correction *on top of* tau_served (both are full weight deltas dW = scale * B @ A per
base tensor). Every candidate is one GGUF LoRA the Soul can load; which one serves is the Soul's
evaluation's choice, never the trainer's:

  stack            tau_served + tau_new, exactly: the two LoRAs side by side (ranks add up), which is
                   what llama.cpp computes with both adapters in one context at scale 1
  task-arithmetic  tau_served + lambda * tau_new for each lambda of a small list (exact, like the stack);
                   with nothing serving yet, lambda * tau_new: the first adapter at smaller (or larger)
                   strength, so a job whose full step forgets general language still has a candidate
  ties             TIES (trim, elect sign, disjoint mean) of the two task vectors, then lambda
  dare             DARE: each entry kept with probability `density` and rescaled by 1/density, summed
  fold             when a linear candidate's rank passes the budget, the SVD of its summed delta at the
                   budget's rank takes its place (the stack never grows without bound)

TIES and DARE produce dense deltas; they are re-factored by truncated SVD at the budget's rank.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import torch

from .lora import AdapterFile, lora_scale, refactor
from .ties import ties_merge

METHODS = ("stack", "task-arithmetic", "ties", "dare")

Pairs = dict[str, tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class CandidateSettings:
    methods: tuple[str, ...] = METHODS
    # the stack's rank budget: past it, a linear combination is folded (SVD) to this rank
    max_rank: int = 16
    task_lambdas: tuple[float, ...] = (0.5, 1.5)
    ties_k: float = 20.0
    ties_lambda: float = 1.0
    dare_density: float = 0.5
    # at most this many candidates (in the order above), so an evaluation's cost stays bounded
    max_candidates: int = 6


@dataclass
class Candidate:
    method: str
    params: dict[str, float]
    alpha: float
    pairs: Pairs
    rank: int
    # relative Frobenius error of the written adapter against the combination it stands for
    reconstruction_error: float
    folded: bool


def _side_by_side(parts: Sequence[tuple[AdapterFile, float]]) -> tuple[float, Pairs, int]:
    """sum_i w_i * dW_i as one LoRA: A's rows and B's columns stacked, B scaled so that scale = 1."""
    names = sorted({n for ad, _ in parts for n in ad.pairs})
    rank = sum(ad.rank for ad, _ in parts)
    out: Pairs = {}
    for name in names:
        a_rows, b_cols = [], []
        for ad, w in parts:
            r = ad.rank
            if name in ad.pairs:
                a, b = ad.pairs[name]
                # each pair's own scale (llama.cpp takes it from B's rank) moves into B
                s = lora_scale(ad.alpha, b.shape[1]) * w
                a_rows.append(a)
                b_cols.append(b * s)
            else:
                shape = next(p for p in (x.pairs.get(name) for x, _ in parts) if p is not None)
                a_rows.append(np.zeros((r, shape[0].shape[1]), np.float32))
                b_cols.append(np.zeros((shape[1].shape[0], r), np.float32))
        out[name] = (np.concatenate(a_rows, 0).astype(np.float32), np.concatenate(b_cols, 1).astype(np.float32))
    # alpha = rank makes llama.cpp's scale alpha / rank exactly 1
    return float(rank), out, rank


def _refactored(deltas: Mapping[str, torch.Tensor], rank: int, exact: Mapping[str, torch.Tensor] | None = None) -> tuple[float, Pairs, float]:
    alpha = float(rank)
    pairs: Pairs = {}
    err_sq = norm_sq = 0.0
    for name in sorted(deltas):
        r = refactor(deltas[name], rank, alpha)
        pairs[name] = (r.a.cpu().numpy(), r.b.cpu().numpy())
        target = (exact or deltas)[name].double()
        approx = lora_scale(alpha, rank) * (r.b.double() @ r.a.double())
        err_sq += float((target - approx).pow(2).sum())
        norm_sq += float(target.pow(2).sum())
    return alpha, pairs, (math.sqrt(err_sq / norm_sq) if norm_sq > 0 else 0.0)


def _summed(parts: Sequence[tuple[Mapping[str, torch.Tensor], float]]) -> dict[str, torch.Tensor]:
    names = sorted({n for d, _ in parts for n in d})
    out: dict[str, torch.Tensor] = {}
    for name in names:
        shape = next(d[name].shape for d, _ in parts if name in d)
        out[name] = sum((w * d[name].double() if name in d else torch.zeros(shape, dtype=torch.float64) for d, w in parts),
                        torch.zeros(shape, dtype=torch.float64))
    return out


def _linear(method: str, params: dict[str, float], served: AdapterFile, new: AdapterFile, w: float, budget: int) -> Candidate:
    if served.rank + new.rank <= budget:
        alpha, pairs, rank = _side_by_side([(served, 1.0), (new, w)])
        return Candidate(method, params, alpha, pairs, rank, 0.0, False)
    # past the budget: the fold (best rank-`budget` approximation of the summed delta) stands in
    alpha, pairs, err = _refactored(_summed([(served.deltas(), 1.0), (new.deltas(), w)]), budget)
    return Candidate("fold" if method == "stack" else method, {**params, "foldedFrom": served.rank + new.rank}, alpha, pairs, budget, err, True)


def dare(tv: torch.Tensor, density: float, gen: torch.Generator) -> torch.Tensor:
    """Drop And REscale: keep each entry with probability `density`, divide the kept ones by it."""
    if not 0 < density <= 1:
        raise ValueError(f"dare density must lie in (0, 1], got {density}")
    keep = torch.rand(tv.shape, generator=gen, dtype=torch.float64) < density
    return torch.where(keep, tv.double() / density, torch.zeros_like(tv, dtype=torch.float64))


def _merged(method: str, served: AdapterFile, new: AdapterFile, s: CandidateSettings, seed: int) -> Candidate:
    ds, dn = served.deltas(), new.deltas()
    names = sorted(set(ds) | set(dn))
    zero = lambda n: torch.zeros(next(d[n].shape for d in (ds, dn) if n in d))  # noqa: E731
    merged: dict[str, torch.Tensor] = {}
    if method == "ties":
        for n in names:
            merged[n] = ties_merge([ds.get(n, zero(n)), dn.get(n, zero(n))], s.ties_k, s.ties_lambda).double()
        params = {"k": s.ties_k, "lambda": s.ties_lambda}
    else:
        gen = torch.Generator().manual_seed(seed)
        for n in names:
            merged[n] = dare(ds.get(n, zero(n)), s.dare_density, gen) + dare(dn.get(n, zero(n)), s.dare_density, gen)
        params = {"density": s.dare_density, "seed": float(seed)}
    alpha, pairs, err = _refactored(merged, s.max_rank)
    return Candidate(method, params, alpha, pairs, s.max_rank, err, True)


def build_candidates(served: AdapterFile | None, new: AdapterFile, s: CandidateSettings, seed: int) -> list[Candidate]:
    """Every candidate the settings ask for, at most `max_candidates`; without a serving adapter
    there is nothing to combine with: the micro-adapter alone, then lambda times it for each of the
    task-arithmetic lambdas (when the settings ask for task arithmetic)."""
    single = Candidate("single", {}, new.alpha, dict(new.pairs), new.rank, 0.0, False)
    if served is None:
        # nothing to combine with: the micro-adapter, and (task arithmetic from zero) its scaled copies
        scaled = []
        if "task-arithmetic" in s.methods:
            for lam in s.task_lambdas:
                alpha, pairs, rank = _side_by_side([(new, lam)])
                scaled.append(Candidate("task-arithmetic", {"lambda": lam}, alpha, pairs, rank, 0.0, False))
        return ([single] + scaled)[: s.max_candidates]
    out: list[Candidate] = []
    for method in s.methods:
        if method == "stack":
            out.append(_linear("stack", {}, served, new, 1.0, s.max_rank))
        elif method == "task-arithmetic":
            out.extend(_linear("task-arithmetic", {"lambda": lam}, served, new, lam, s.max_rank) for lam in s.task_lambdas)
        elif method in ("ties", "dare"):
            out.append(_merged(method, served, new, s, seed))
        else:
            raise ValueError(f"unknown candidate method {method!r}; known: {METHODS}")
    return out[: s.max_candidates]
