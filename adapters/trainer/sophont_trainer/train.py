"""The training job: SFT (with the Golden Anchor and general English replayed) then DPO, export, TIES merge.

Both back-ends implement the same small protocol (see `Backend`), so this loop is the same on the
project's tiny GGUF models on a CPU and on a transformers model on an H100.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ContextManager, Iterator, Protocol, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from . import gguf
from .data import InputError, Job, SftExample, check_vocab, load_job, replay_pools, resolve_steps
from .lora import LoraSet, init_lora, read_adapter, write_adapter
from .preference import _chunks, _pad, dpo_loss, eval_dpo, eval_heldout_pairs, kto_loss, preference_batches, token_logprobs
from .progress import Progress
from .candidates import build_candidates
from .ties import merge_deltas

MICRO_NAME = "micro-adapter.gguf"
MERGED_NAME = "adapter.gguf"
EVAL_ROWS = 64  # rows per before/after evaluation: enough signal, bounded cost on big datasets


class Backend(Protocol):
    architecture: str
    device: torch.device

    @property
    def vocab_size(self) -> int: ...

    def target_weights(self, targets: list[str]) -> dict[str, tuple[int, int]]: ...

    def base_shapes(self) -> dict[str, tuple[int, ...]]: ...

    def attach_lora(self, lora: LoraSet) -> None: ...

    def add_to_base(self, deltas: dict[str, torch.Tensor]) -> None: ...

    def lora_disabled(self) -> ContextManager[None]: ...

    def logits(self, tokens: torch.Tensor) -> torch.Tensor: ...

    @property
    def max_len(self) -> int | None: ...

    def export_pairs(self, lora: LoraSet) -> dict[str, tuple[np.ndarray, np.ndarray]]: ...

    def import_pairs(self, pairs: dict[str, tuple[np.ndarray, np.ndarray]], alpha: float) -> LoraSet: ...


# ---------------------------------------------------------------- losses


def sft_loss(model: Backend, batch: Sequence[SftExample]) -> torch.Tensor:
    """Mean next-token cross-entropy over the masked target tokens of the whole batch."""
    lp = token_logprobs(model, [ex.tokens for ex in batch])
    mask = _pad([ex.loss_mask[1:] for ex in batch], model.device).float()
    mask = mask[:, : lp.shape[1]]
    return -(lp * mask).sum() / mask.sum()


# ---------------------------------------------------------------- sampling


class Cycler:
    """Endless deterministic stream of rows: a fresh seeded permutation every pass."""

    def __init__(self, rows: Sequence[Any], gen: torch.Generator) -> None:
        self.rows = rows
        self.gen = gen
        self.order: list[int] = []

    def take(self, n: int) -> list[Any]:
        out = []
        for _ in range(n):
            if not self.order:
                self.order = torch.randperm(len(self.rows), generator=self.gen).tolist()
            out.append(self.rows[self.order.pop()])
        return out


def anchor_count(step: int, batch: int, ratio: float) -> int:
    """Anchor rows in batch `step` so that the running share is exactly `ratio` (no rounding drift)."""
    return math.floor((step + 1) * batch * ratio + 1e-9) - math.floor(step * batch * ratio + 1e-9)


def replay_counts(step: int, batch: int, ratios: Sequence[float]) -> list[int]:
    """Rows of each replayed set in batch `step`, each at its exact running share; at least one SFT
    row stays in every batch (a later set gives way when the shares round up together)."""
    counts = []
    for ratio in ratios:
        counts.append(min(anchor_count(step, batch, ratio), batch - 1 - sum(counts)))
    return [max(0, n) for n in counts]


def lr_at(step: int, base: float, warmup: int) -> float:
    return base * min(1.0, (step + 1) / warmup) if warmup > 0 else base


# ---------------------------------------------------------------- evaluation


@torch.no_grad()
def eval_sft(model: Backend, rows: Sequence[SftExample], batch: int) -> float | None:
    rows = rows[:EVAL_ROWS]
    if not rows:
        return None
    total = count = 0.0
    for chunk in _chunks(rows, batch):
        lp = token_logprobs(model, [ex.tokens for ex in chunk])
        mask = _pad([ex.loss_mask[1:] for ex in chunk], model.device).float()[:, : lp.shape[1]]
        total += float(-(lp * mask).sum())
        count += float(mask.sum())
    return total / count


def evaluate(model: Backend, job: Job) -> dict[str, Any]:
    """Mean loss on (the first rows of) the SFT and anchor sets, DPO margin on the Shadow set."""
    b = job.recipe.batch
    return {"sft_loss": eval_sft(model, job.sft, b), "anchor_loss": eval_sft(model, job.anchor, b),
            "dpo": eval_dpo(model, job.dpo, job.recipe.dpo_beta, b), "heldout_pairs": eval_heldout_pairs(model, job.dpo_eval, b)}


# ---------------------------------------------------------------- loops


def _check_finite(loss: torch.Tensor, lora: LoraSet, phase: str, step: int) -> None:
    if not torch.isfinite(loss) or not all(torch.isfinite(p).all() for p in lora.parameters()):
        raise TrainingDiverged(f"{phase} diverged at step {step}: non-finite loss or weights (learning rate too high?)")


class TrainingDiverged(RuntimeError):
    pass


def train_sft(model: Backend, lora: LoraSet, job: Job, steps: int, gen: torch.Generator, progress: Progress) -> None:
    r = job.recipe
    opt = torch.optim.AdamW(lora.parameters(), lr=r.lr, weight_decay=0.0)
    sft = Cycler(job.sft, gen)
    # one path for every replayed set (the anchor's replay part, general English): a cycler and an exact share each
    pools = [(name, Cycler(rows, gen), ratio) for name, rows, ratio in replay_pools(job)]
    for step in range(steps):
        counts = replay_counts(step, r.batch, [ratio for _, _, ratio in pools])
        batch = sft.take(r.batch - sum(counts)) + [row for (_, pool, _), n in zip(pools, counts) for row in pool.take(n)]
        replayed = {"anchor_rows": 0, "general_rows": 0} | {f"{name}_rows": n for (name, _, _), n in zip(pools, counts)}
        lr = lr_at(step, r.lr, r.warmup_steps)
        for group in opt.param_groups:
            group["lr"] = lr
        loss = sft_loss(model, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(lora.parameters(), r.max_grad_norm)
        opt.step()
        _check_finite(loss, lora, "sft", step + 1)
        progress.emit("progress", phase="sft", step=step + 1, of=steps, loss=float(loss), margin=None,
                      lr=lr, **replayed)


def train_dpo(model: Backend, lora: LoraSet, job: Job, steps: int, gen: torch.Generator, progress: Progress) -> None:
    r = job.recipe
    # DPO pushes log-ratios without bound; at the SFT rate it undoes the SFT (seen on the tiny models)
    base_lr = r.dpo_lr if r.dpo_lr is not None else r.lr / 10
    opt = torch.optim.AdamW(lora.parameters(), lr=base_lr, weight_decay=0.0)
    rows, negatives = Cycler(job.dpo, gen), Cycler(job.negatives, gen)
    n_pairs, n_neg = preference_batches(len(job.dpo), len(job.negatives), r.batch)
    for step in range(steps):
        lr = lr_at(step, base_lr, r.warmup_steps)
        for group in opt.param_groups:
            group["lr"] = lr
        out = dpo_loss(model, rows.take(n_pairs), r.dpo_beta) if n_pairs else None
        kto = kto_loss(model, negatives.take(n_neg), r.dpo_beta) if n_neg else None
        loss = (out.loss if out else 0.0) + (r.kto_weight * kto if kto is not None else 0.0)
        assert isinstance(loss, torch.Tensor)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(lora.parameters(), r.max_grad_norm)
        opt.step()
        _check_finite(loss, lora, "dpo", step + 1)
        progress.emit("progress", phase="dpo", step=step + 1, of=steps, loss=float(loss), margin=out.margin if out else None,
                      accuracy=out.accuracy if out else None, lr=lr, kto_loss=float(kto) if kto is not None else None)


# ---------------------------------------------------------------- the job


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def pick_device(requested: str | None) -> torch.device:
    if requested:
        if requested.startswith("cuda") and not torch.cuda.is_available():
            raise InputError(f"device {requested!r} requested but CUDA is not available")
        return torch.device(requested)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def make_deterministic(seed: int) -> None:
    # cuBLAS needs this set before its first use to have deterministic GEMMs
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    torch.use_deterministic_algorithms(True, warn_only=True)


def load_backend(job: Job, device: torch.device) -> Backend:
    r = job.recipe
    if r.backend == "hf":
        from .hf_backend import HFLlama  # lazy: transformers/peft exist only on real GPU hosts

        assert r.hf_model is not None
        return HFLlama(r.hf_model, device)
    from .decoder import GGUFModel  # the architecture comes from the GGUF itself (arch.py)

    return GGUFModel(gguf.read_gguf(r.base_model), device)


def run_job(job_dir: str | Path, out_dir: str | Path | None, device_name: str | None, progress: Progress) -> dict[str, Any]:
    t0 = time.time()
    job = load_job(job_dir)
    r = job.recipe
    sft_steps, dpo_steps = resolve_steps(job)
    device = pick_device(device_name)
    make_deterministic(r.seed)
    out = (Path(out_dir) if out_dir else job.dir / "out").resolve()
    out.mkdir(parents=True, exist_ok=True)

    model = load_backend(job, device)
    check_vocab(job, model.vocab_size, model.max_len)
    shapes = model.target_weights(list(r.target_modules))
    if "output" in r.target_modules and not any(n.startswith("output.") for n in shapes):
        progress.emit("warning", message="'output' is tied to token_embd in this model; it is not a LoRA target")
    if not shapes:
        raise InputError("no target weight found in the model for target_modules")
    if r.anchor_ratio > 0 and not job.anchor and sft_steps > 0:
        progress.emit("warning", message="anchor_ratio > 0 but anchor.jsonl is missing or empty: SFT runs unanchored")
    if r.general_replay_ratio > 0 and not job.general and sft_steps > 0:
        progress.emit("warning", message="general_replay_ratio > 0 but general.jsonl is missing or empty: SFT replays no general text")

    serving_sha = None
    if r.serving_adapter is not None:
        # the new micro-adapter learns on top of what serves: its loss starts where the served model is
        model.add_to_base(read_adapter(r.serving_adapter, model.base_shapes(), model.architecture).deltas())
        serving_sha = sha256_file(r.serving_adapter)

    gen = torch.Generator().manual_seed(r.seed)
    lora = init_lora(shapes, r.rank, r.alpha, gen)
    model.attach_lora(lora)
    base = _base_memory(model)
    progress.emit("started", job_id=r.job_id, backend=r.backend, device=str(device), torch=torch.__version__, **base,
                  sft_steps=sft_steps, dpo_steps=dpo_steps, sft_rows=len(job.sft), anchor_rows=len(job.anchor), general_rows=len(job.general),
                  dpo_rows=len(job.dpo), negative_rows=len(job.negatives), dpo_eval_rows=len(job.dpo_eval),
                  serving_adapter=serving_sha, rank=r.rank, alpha=r.alpha, lora_tensors=len(shapes), seed=r.seed)

    summary: dict[str, Any] = {}
    before = evaluate(model, job)
    if sft_steps:
        train_sft(model, lora, job, sft_steps, gen, progress)
    if dpo_steps:
        train_dpo(model, lora, job, dpo_steps, gen, progress)
    after = evaluate(model, job)
    progress.emit("eval", before=before, after=after)
    summary.update(before=before, after=after)

    artifacts = write_artifacts(job, model, lora, out, progress)
    result = {"job_id": r.job_id, "artifacts": artifacts, "seconds": round(time.time() - t0, 3), **summary}
    if device.type == "cuda":
        # against the memory plan's total (actors/muscle/plan.ts)
        result["peak_memory_bytes"] = int(torch.cuda.max_memory_allocated(device))
    (out / "result.json").write_text(json.dumps(result, indent=2, allow_nan=False) + "\n")
    progress.emit("done", **result)
    return result


def _base_memory(model: Backend) -> dict[str, Any]:
    """The architecture and the device bytes of the base as it is held (packed where the GGUF is quantized)."""
    weights = getattr(model, "w", None)
    if not isinstance(weights, dict):
        return {"architecture": model.architecture}
    types: dict[str, int] = {}
    for w in weights.values():
        types[w.type.name] = types.get(w.type.name, 0) + w.nbytes()
    return {"architecture": model.architecture, "base_bytes": sum(types.values()), "base_types": types}


def _base_sha(job: Job) -> str:
    p = job.recipe.base_model
    return sha256_file(p) if p.is_file() else ""


def write_artifacts(job: Job, model: Backend, lora: LoraSet, out: Path, progress: Progress) -> list[dict[str, Any]]:
    r = job.recipe
    base_sha = _base_sha(job)
    common = {
        "general.name": gguf.string(f"sophont-{r.job_id or 'adapter'}"),
        "sophont.job_id": gguf.string(r.job_id),
        "sophont.base_model.sha256": gguf.string(base_sha),
        "sophont.seed": gguf.u32(r.seed),
    }
    micro_pairs = model.export_pairs(lora)
    micro = out / MICRO_NAME
    write_adapter(micro, r.alpha, micro_pairs, {**common, "sophont.kind": gguf.string("micro")}, model.architecture)
    micro_sha = sha256_file(micro)
    artifacts = [{"kind": "micro", "path": str(micro), "sha256": micro_sha, "rank": r.rank, "alpha": r.alpha}]
    progress.emit("artifact", **artifacts[-1])

    if r.serving_adapter is not None or not r.merge_with:
        # the candidates: combinations with what serves, or (nothing serves yet) the micro-adapter and its scaled copies
        return artifacts + write_candidates(job, model, micro, out, common, progress)

    merged = out / MERGED_NAME
    base_shapes = model.base_shapes()
    earlier = [read_adapter(p, base_shapes, model.architecture) for p in r.merge_with]
    new = read_adapter(micro, base_shapes, model.architecture)  # exactly what llama.cpp will see
    rank = r.merge_rank or r.rank
    result = merge_deltas([a.deltas() for a in earlier] + [new.deltas()], r.ties.k, r.ties.lam, rank, r.alpha,
                          model.device)
    sources = [sha256_file(p) for p in r.merge_with] + [micro_sha]
    meta = {
        **common,
        "sophont.kind": gguf.string("merged"),
        "sophont.merge.method": gguf.string("ties"),
        "sophont.merge.k_percent": gguf.f32(r.ties.k),
        "sophont.merge.lambda": gguf.f32(r.ties.lam),
        "sophont.merge.sources": gguf.array(gguf.ValueType.STRING, sources),
        "sophont.merge.reconstruction_error": gguf.f32(result.relative_error),
    }
    merged_pairs = result.numpy_pairs()
    write_adapter(merged, r.alpha, merged_pairs, meta, model.architecture)
    model.attach_lora(model.import_pairs(merged_pairs, r.alpha))
    artifacts.append({"kind": "merged", "path": str(merged), "sha256": sha256_file(merged), "rank": rank,
                      "alpha": r.alpha, "merged_from": sources, "ties": {"k": r.ties.k, "lambda": r.ties.lam},
                      "reconstruction_error": result.relative_error,
                      "max_tensor_reconstruction_error": result.max_tensor_error,
                      "eval": evaluate(model, job)})
    progress.emit("artifact", **artifacts[-1])
    return artifacts


def write_candidates(job: Job, model: Backend, micro: Path, out: Path, common: dict[str, Any], progress: Progress) -> list[dict[str, Any]]:
    """The serving adapter combined with the new micro-adapter, every way the recipe asks
    (candidates.py), or with nothing serving the micro-adapter and its scaled copies; the first is
    also written as adapter.gguf, the default to serve."""
    r = job.recipe
    shapes = model.base_shapes()
    served = read_adapter(r.serving_adapter, shapes, model.architecture) if r.serving_adapter is not None else None
    new = read_adapter(micro, shapes, model.architecture)  # exactly what llama.cpp will see
    sources = ([sha256_file(r.serving_adapter)] if r.serving_adapter is not None else []) + [sha256_file(micro)]
    artifacts: list[dict[str, Any]] = []
    for i, c in enumerate(build_candidates(served, new, r.candidates, r.seed)):
        path = out / f"candidate-{i}.gguf"
        meta = {**common, "sophont.kind": gguf.string("candidate"), "sophont.merge.method": gguf.string(c.method),
                "sophont.merge.sources": gguf.array(gguf.ValueType.STRING, sources),
                "sophont.merge.reconstruction_error": gguf.f32(c.reconstruction_error)}
        write_adapter(path, c.alpha, c.pairs, meta, model.architecture)
        artifacts.append({"kind": "candidate", "index": i, "method": c.method, "params": c.params, "path": str(path),
                          "sha256": sha256_file(path), "rank": c.rank, "alpha": c.alpha, "merged_from": sources,
                          "reconstruction_error": c.reconstruction_error, "folded": c.folded})
        progress.emit("artifact", **artifacts[-1])
    first = artifacts[0]
    shutil.copyfile(first["path"], out / MERGED_NAME)
    merged = {**first, "kind": "merged", "path": str(out / MERGED_NAME), "max_tensor_reconstruction_error": first["reconstruction_error"]}
    if served is None:
        # nothing was merged: the adapter to serve by default is the micro-adapter as it is
        merged = {k: v for k, v in merged.items() if k not in ("method", "params", "index", "folded")}
    progress.emit("artifact", **merged)
    return [merged] + artifacts
