"""The training job: SFT (with the Golden Anchor mixed in) then DPO, export, TIES merge.

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
from .data import DpoExample, InputError, Job, SftExample, check_vocab, load_job, resolve_steps
from .lora import LoraSet, init_lora, read_adapter, write_adapter
from .progress import Progress
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

    def lora_disabled(self) -> ContextManager[None]: ...

    def logits(self, tokens: torch.Tensor) -> torch.Tensor: ...

    @property
    def max_len(self) -> int | None: ...

    def export_pairs(self, lora: LoraSet) -> dict[str, tuple[np.ndarray, np.ndarray]]: ...

    def import_pairs(self, pairs: dict[str, tuple[np.ndarray, np.ndarray]], alpha: float) -> LoraSet: ...


# ---------------------------------------------------------------- losses


def _pad(seqs: Sequence[Sequence[int]], device: torch.device) -> torch.Tensor:
    n = max(len(s) for s in seqs)
    out = torch.zeros(len(seqs), n, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return out.to(device)


def token_logprobs(model: Backend, seqs: Sequence[Sequence[int]]) -> torch.Tensor:
    """[B, T-1]: log p(tokens[t+1] | tokens[:t+1]) for every position (padding included)."""
    tokens = _pad(seqs, model.device)
    logp = F.log_softmax(model.logits(tokens)[:, :-1].float(), dim=-1)
    return logp.gather(-1, tokens[:, 1:, None]).squeeze(-1)


def sft_loss(model: Backend, batch: Sequence[SftExample]) -> torch.Tensor:
    """Mean next-token cross-entropy over the masked target tokens of the whole batch."""
    lp = token_logprobs(model, [ex.tokens for ex in batch])
    mask = _pad([ex.loss_mask[1:] for ex in batch], model.device).float()
    mask = mask[:, : lp.shape[1]]
    return -(lp * mask).sum() / mask.sum()


def response_logprob(model: Backend, prompts: Sequence[list[int]], responses: Sequence[list[int]]) -> torch.Tensor:
    """[B]: sum of log p(response | prompt) over the response tokens."""
    seqs = [p + r for p, r in zip(prompts, responses)]
    lp = token_logprobs(model, seqs)
    mask = torch.zeros_like(lp)
    for i, (p, r) in enumerate(zip(prompts, responses)):
        # target index t predicts token t+1: the response occupies tokens len(p) .. len(p)+len(r)-1
        mask[i, len(p) - 1 : len(p) - 1 + len(r)] = 1.0
    return (lp * mask).sum(-1)


@dataclass
class DpoOut:
    loss: torch.Tensor
    margin: float  # mean of (log pi/ref on chosen) - (log pi/ref on rejected), in nats
    accuracy: float  # share of pairs whose margin is positive


def dpo_loss(model: Backend, batch: Sequence[DpoExample], beta: float) -> DpoOut:
    prompts = [ex.prompt for ex in batch]
    with torch.no_grad(), model.lora_disabled():
        ref_c = response_logprob(model, prompts, [ex.chosen for ex in batch])
        ref_r = response_logprob(model, prompts, [ex.rejected for ex in batch])
    pol_c = response_logprob(model, prompts, [ex.chosen for ex in batch])
    pol_r = response_logprob(model, prompts, [ex.rejected for ex in batch])
    margin = (pol_c - ref_c) - (pol_r - ref_r)
    loss = -F.logsigmoid(beta * margin).mean()
    return DpoOut(loss, float(margin.detach().mean()), float((margin.detach() > 0).float().mean()))


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


def lr_at(step: int, base: float, warmup: int) -> float:
    return base * min(1.0, (step + 1) / warmup) if warmup > 0 else base


# ---------------------------------------------------------------- evaluation


def _chunks(rows: Sequence[Any], n: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(rows), n):
        yield rows[i : i + n]


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


@torch.no_grad()
def eval_dpo(model: Backend, rows: Sequence[DpoExample], beta: float, batch: int) -> dict[str, float] | None:
    rows = rows[:EVAL_ROWS]
    if not rows:
        return None
    margins, accs, losses = [], [], []
    for chunk in _chunks(rows, batch):
        out = dpo_loss(model, chunk, beta)
        margins.append(out.margin * len(chunk))
        accs.append(out.accuracy * len(chunk))
        losses.append(float(out.loss) * len(chunk))
    n = len(rows)
    return {"margin": sum(margins) / n, "accuracy": sum(accs) / n, "loss": sum(losses) / n}


def evaluate(model: Backend, job: Job) -> dict[str, Any]:
    """Mean loss on (the first rows of) the SFT and anchor sets, DPO margin on the Shadow set."""
    b = job.recipe.batch
    return {"sft_loss": eval_sft(model, job.sft, b), "anchor_loss": eval_sft(model, job.anchor, b),
            "dpo": eval_dpo(model, job.dpo, job.recipe.dpo_beta, b)}


# ---------------------------------------------------------------- loops


def _check_finite(loss: torch.Tensor, lora: LoraSet, phase: str, step: int) -> None:
    if not torch.isfinite(loss) or not all(torch.isfinite(p).all() for p in lora.parameters()):
        raise TrainingDiverged(f"{phase} diverged at step {step}: non-finite loss or weights (learning rate too high?)")


class TrainingDiverged(RuntimeError):
    pass


def train_sft(model: Backend, lora: LoraSet, job: Job, steps: int, gen: torch.Generator, progress: Progress) -> None:
    r = job.recipe
    opt = torch.optim.AdamW(lora.parameters(), lr=r.lr, weight_decay=0.0)
    sft, anchor = Cycler(job.sft, gen), Cycler(job.anchor, gen)
    for step in range(steps):
        n_anchor = anchor_count(step, r.batch, r.anchor_ratio) if job.anchor else 0
        batch = sft.take(r.batch - n_anchor) + anchor.take(n_anchor)
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
                      lr=lr, anchor_rows=n_anchor)


def train_dpo(model: Backend, lora: LoraSet, job: Job, steps: int, gen: torch.Generator, progress: Progress) -> None:
    r = job.recipe
    # DPO pushes log-ratios without bound; at the SFT rate it undoes the SFT (seen on the tiny models)
    base_lr = r.dpo_lr if r.dpo_lr is not None else r.lr / 10
    opt = torch.optim.AdamW(lora.parameters(), lr=base_lr, weight_decay=0.0)
    rows = Cycler(job.dpo, gen)
    for step in range(steps):
        lr = lr_at(step, base_lr, r.warmup_steps)
        for group in opt.param_groups:
            group["lr"] = lr
        out = dpo_loss(model, rows.take(r.batch), r.dpo_beta)
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(lora.parameters(), r.max_grad_norm)
        opt.step()
        _check_finite(out.loss, lora, "dpo", step + 1)
        progress.emit("progress", phase="dpo", step=step + 1, of=steps, loss=float(out.loss), margin=out.margin,
                      accuracy=out.accuracy, lr=lr)


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

    gen = torch.Generator().manual_seed(r.seed)
    lora = init_lora(shapes, r.rank, r.alpha, gen)
    model.attach_lora(lora)
    base = _base_memory(model)
    progress.emit("started", job_id=r.job_id, backend=r.backend, device=str(device), torch=torch.__version__, **base,
                  sft_steps=sft_steps, dpo_steps=dpo_steps, sft_rows=len(job.sft), anchor_rows=len(job.anchor),
                  dpo_rows=len(job.dpo), rank=r.rank, alpha=r.alpha, lora_tensors=len(shapes), seed=r.seed)

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

    merged = out / MERGED_NAME
    if not r.merge_with:
        # nothing earlier to merge with: the served adapter is the micro-adapter itself
        shutil.copyfile(micro, merged)
        artifacts.append({"kind": "merged", "path": str(merged), "sha256": sha256_file(merged), "rank": r.rank,
                          "alpha": r.alpha, "merged_from": [micro_sha], "reconstruction_error": 0.0})
        progress.emit("artifact", **artifacts[-1])
        return artifacts

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
