"""The job directory: recipe.json and the pre-tokenized JSONL datasets, validated up front.

Everything is checked before the model is touched, so a bad job fails in milliseconds with an
error that names the file, the line and the field.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .candidates import METHODS, CandidateSettings
from .llama import TARGETS


class InputError(ValueError):
    """Invalid recipe or dataset; the message is meant for the user."""


@dataclass(frozen=True)
class Ties:
    k: float = 20.0  # percent of each task vector kept
    lam: float = 1.0


@dataclass(frozen=True)
class Recipe:
    base_model: Path
    rank: int
    alpha: float
    lr: float
    batch: int
    seed: int
    target_modules: tuple[str, ...]
    sft_steps: int | None = None
    dpo_steps: int | None = None
    epochs: float | None = None
    dpo_lr: float | None = None
    anchor_ratio: float = 0.0
    # share of each SFT batch drawn from general.jsonl (general-English replay), framed like the anchor
    general_replay_ratio: float = 0.0
    dpo_beta: float = 0.1
    ties: Ties = Ties()
    merge_with: tuple[Path, ...] = ()
    merge_rank: int | None = None
    warmup_steps: int = 0
    max_grad_norm: float = 1.0
    backend: str = "tiny"
    hf_model: Path | None = None
    job_id: str = ""
    # the adapter that serves now: applied and frozen while the new micro-adapter trains on top of it
    serving_adapter: Path | None = None
    # cap on each phase's steps when they come from `epochs`
    max_steps: int | None = None
    # weight of the unpaired negatives' (KTO-style) loss beside DPO's
    kto_weight: float = 1.0
    candidates: CandidateSettings = CandidateSettings()


@dataclass(frozen=True)
class NegativeExample:
    """An output that was judged wrong and never corrected: an unpaired undesirable example."""

    prompt: list[int]
    rejected: list[int]


@dataclass(frozen=True)
class SftExample:
    tokens: list[int]
    loss_mask: list[int]  # 1 where tokens[i] is a target (predicted from tokens[:i])


@dataclass(frozen=True)
class DpoExample:
    prompt: list[int]
    chosen: list[int]
    rejected: list[int]


@dataclass
class Job:
    dir: Path
    recipe: Recipe
    sft: list[SftExample] = field(default_factory=list)
    anchor: list[SftExample] = field(default_factory=list)
    # general-English replay rows: replayed beside the anchor so that training does not forget general text
    general: list[SftExample] = field(default_factory=list)
    dpo: list[DpoExample] = field(default_factory=list)
    negatives: list[NegativeExample] = field(default_factory=list)
    # held-out preference pairs: measured before and after, never trained on
    dpo_eval: list[DpoExample] = field(default_factory=list)


# ---------------------------------------------------------------- recipe


def _num(r: dict[str, Any], key: str, lo: float | None = None, hi: float | None = None,
         integer: bool = False, required: bool = True, default: Any = None, lo_open: bool = False) -> Any:
    if key not in r or r[key] is None:
        if required:
            raise InputError(f"recipe.json: {key!r} is required")
        return default
    v = r[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not isinstance(v, int)):
        raise InputError(f"recipe.json: {key!r} must be {'an integer' if integer else 'a number'}, got {v!r}")
    if not math.isfinite(v):
        raise InputError(f"recipe.json: {key!r} must be finite")
    if lo is not None and (v <= lo if lo_open else v < lo):
        raise InputError(f"recipe.json: {key!r} must be {'>' if lo_open else '>='} {lo}, got {v}")
    if hi is not None and v > hi:
        raise InputError(f"recipe.json: {key!r} must be <= {hi}, got {v}")
    return v


def _path(job_dir: Path, v: Any, key: str) -> Path:
    if not isinstance(v, str) or not v:
        raise InputError(f"recipe.json: {key!r} must be a path string")
    p = Path(v)
    return p if p.is_absolute() else job_dir / p


def parse_recipe(job_dir: Path, r: Any) -> Recipe:
    if not isinstance(r, dict):
        raise InputError("recipe.json must hold a JSON object")
    known = set(Recipe.__dataclass_fields__)
    unknown = sorted(set(r) - known)
    if unknown:
        # a typo (e.g. "lr_rate") silently ignored would train with the default: refuse instead
        raise InputError(f"recipe.json: unknown keys {unknown}")

    backend = r.get("backend", "tiny")
    if backend not in ("tiny", "hf"):
        raise InputError(f"recipe.json: 'backend' must be 'tiny' or 'hf', got {backend!r}")
    if backend == "tiny" or "base_model" in r:
        base = _path(job_dir, r.get("base_model"), "base_model")
    else:
        base = Path("")
    hf_model = _path(job_dir, r["hf_model"], "hf_model") if r.get("hf_model") else None
    if backend == "hf" and hf_model is None:
        raise InputError("recipe.json: the 'hf' backend needs 'hf_model' (a transformers model directory)")

    targets = r.get("target_modules", ["attn_q", "attn_v"])
    if not isinstance(targets, list) or not targets or not all(isinstance(t, str) for t in targets):
        raise InputError("recipe.json: 'target_modules' must be a non-empty list of names")
    bad = [t for t in targets if t not in TARGETS]
    if bad:
        raise InputError(f"recipe.json: unknown target_modules {bad}; known: {sorted(TARGETS)}")

    ties_raw = r.get("ties", {})
    if not isinstance(ties_raw, dict) or set(ties_raw) - {"k", "lambda"}:
        raise InputError("recipe.json: 'ties' must be an object {k, lambda}")
    ties = Ties(
        k=float(_num(ties_raw, "k", 0, 100, required=False, default=20.0, lo_open=True)),
        lam=float(_num(ties_raw, "lambda", 0, required=False, default=1.0, lo_open=True)),
    )

    merge_with = r.get("merge_with", [])
    if not isinstance(merge_with, list):
        raise InputError("recipe.json: 'merge_with' must be a list of adapter paths")

    sft_steps = _num(r, "sft_steps", 0, integer=True, required=False)
    dpo_steps = _num(r, "dpo_steps", 0, integer=True, required=False)
    epochs = _num(r, "epochs", 0, required=False, lo_open=True)
    if float(r.get("anchor_ratio") or 0) + float(r.get("general_replay_ratio") or 0) >= 1:
        raise InputError("recipe.json: 'anchor_ratio' + 'general_replay_ratio' must be below 1 (the rest of each batch is the SFT rows)")
    if sft_steps is None and dpo_steps is None and epochs is None:
        raise InputError("recipe.json: give 'sft_steps' and/or 'dpo_steps', or 'epochs'")

    serving = r.get("serving_adapter")
    job_id = r.get("job_id", "")
    if not isinstance(job_id, str):
        raise InputError("recipe.json: 'job_id' must be a string")

    return Recipe(
        base_model=base,
        rank=_num(r, "rank", 1, integer=True),
        alpha=float(_num(r, "alpha", 0, lo_open=True)),
        lr=float(_num(r, "lr", 0, lo_open=True)),
        batch=_num(r, "batch", 1, integer=True),
        seed=_num(r, "seed", 0, integer=True),
        target_modules=tuple(targets),
        sft_steps=sft_steps,
        dpo_steps=dpo_steps,
        epochs=epochs,
        dpo_lr=_num(r, "dpo_lr", 0, required=False, lo_open=True),
        anchor_ratio=float(_num(r, "anchor_ratio", 0, 1, required=False, default=0.0)),
        general_replay_ratio=float(_num(r, "general_replay_ratio", 0, 1, required=False, default=0.0)),
        dpo_beta=float(_num(r, "dpo_beta", 0, required=False, default=0.1, lo_open=True)),
        ties=ties,
        merge_with=tuple(_path(job_dir, p, "merge_with[]") for p in merge_with),
        merge_rank=_num(r, "merge_rank", 1, integer=True, required=False),
        warmup_steps=_num(r, "warmup_steps", 0, integer=True, required=False, default=0),
        max_grad_norm=float(_num(r, "max_grad_norm", 0, required=False, default=1.0, lo_open=True)),
        backend=backend,
        hf_model=hf_model,
        job_id=job_id,
        serving_adapter=_path(job_dir, serving, "serving_adapter") if serving is not None else None,
        max_steps=_num(r, "max_steps", 1, integer=True, required=False),
        kto_weight=float(_num(r, "kto_weight", 0, required=False, default=1.0)),
        candidates=parse_candidates(r.get("candidates", {})),
    )


def parse_candidates(c: Any) -> CandidateSettings:
    keys = {"methods", "max_rank", "task_lambdas", "ties", "dare_density", "max_candidates"}
    if not isinstance(c, dict) or set(c) - keys:
        raise InputError(f"recipe.json: 'candidates' must be an object with keys among {sorted(keys)}")
    d = CandidateSettings()
    methods = c.get("methods", list(d.methods))
    if not isinstance(methods, list) or not methods or any(m not in METHODS for m in methods):
        raise InputError(f"recipe.json: 'candidates.methods' must be a non-empty list among {list(METHODS)}")
    lambdas = c.get("task_lambdas", list(d.task_lambdas))
    if not isinstance(lambdas, list) or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in lambdas):
        raise InputError("recipe.json: 'candidates.task_lambdas' must be a list of numbers")
    ties = c.get("ties", {})
    if not isinstance(ties, dict) or set(ties) - {"k", "lambda"}:
        raise InputError("recipe.json: 'candidates.ties' must be an object {k, lambda}")
    return CandidateSettings(
        methods=tuple(methods),
        max_rank=_num(c, "max_rank", 1, integer=True, required=False, default=d.max_rank),
        task_lambdas=tuple(float(x) for x in lambdas),
        ties_k=float(_num(ties, "k", 0, 100, required=False, default=d.ties_k, lo_open=True)),
        ties_lambda=float(_num(ties, "lambda", 0, required=False, default=d.ties_lambda, lo_open=True)),
        dare_density=float(_num(c, "dare_density", 0, 1, required=False, default=d.dare_density, lo_open=True)),
        max_candidates=_num(c, "max_candidates", 1, integer=True, required=False, default=d.max_candidates),
    )


# ---------------------------------------------------------------- datasets


def _tokens(v: Any, where: str, key: str, min_len: int) -> list[int]:
    if not isinstance(v, list) or not all(isinstance(t, int) and not isinstance(t, bool) for t in v):
        raise InputError(f"{where}: {key!r} must be a list of integers")
    if len(v) < min_len:
        raise InputError(f"{where}: {key!r} needs at least {min_len} token(s), got {len(v)}")
    return v


def _sft_row(row: Any, where: str) -> SftExample:
    if not isinstance(row, dict):
        raise InputError(f"{where}: a row must be a JSON object")
    tokens = _tokens(row.get("tokens"), where, "tokens", 2)
    mask = row.get("loss_mask")
    if mask is None:
        mask = [0] + [1] * (len(tokens) - 1)
    if not isinstance(mask, list) or len(mask) != len(tokens) or any(m not in (0, 1) or isinstance(m, bool) for m in mask):
        raise InputError(f"{where}: 'loss_mask' must be a list of 0/1 as long as 'tokens'")
    if not any(mask[1:]):
        # the first token has no context, so it can never be a target
        raise InputError(f"{where}: 'loss_mask' selects no predictable token (positions >= 1)")
    return SftExample(tokens, mask)


def _dpo_row(row: Any, where: str) -> DpoExample:
    if not isinstance(row, dict):
        raise InputError(f"{where}: a row must be a JSON object")
    ex = DpoExample(
        _tokens(row.get("prompt_tokens"), where, "prompt_tokens", 1),
        _tokens(row.get("chosen_tokens"), where, "chosen_tokens", 1),
        _tokens(row.get("rejected_tokens"), where, "rejected_tokens", 1),
    )
    if ex.chosen == ex.rejected:
        raise InputError(f"{where}: chosen and rejected are identical")
    return ex


def _negative_row(row: Any, where: str) -> NegativeExample:
    if not isinstance(row, dict):
        raise InputError(f"{where}: a row must be a JSON object")
    return NegativeExample(_tokens(row.get("prompt_tokens"), where, "prompt_tokens", 1),
                           _tokens(row.get("rejected_tokens"), where, "rejected_tokens", 1))


def read_jsonl(path: Path, parse: Callable[[Any, str], Any]) -> list[Any]:
    rows = []
    with path.open("r", encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path.name}:{i}"
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"{where}: invalid JSON ({e.msg})") from e
            rows.append(parse(raw, where))
    return rows


def load_job(job_dir: str | Path) -> Job:
    d = Path(job_dir)
    if not d.is_dir():
        raise InputError(f"job directory {str(d)!r} does not exist")
    recipe_path = d / "recipe.json"
    if not recipe_path.is_file():
        raise InputError(f"{recipe_path}: missing")
    try:
        raw = json.loads(recipe_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(f"recipe.json: invalid JSON ({e.msg} at line {e.lineno})") from e
    recipe = parse_recipe(d, raw)
    job = Job(d, recipe)
    for name, parse, attr in (("sft.jsonl", _sft_row, "sft"), ("anchor.jsonl", _sft_row, "anchor"), ("general.jsonl", _sft_row, "general"), ("dpo.jsonl", _dpo_row, "dpo"),
                              ("negatives.jsonl", _negative_row, "negatives"), ("dpo_eval.jsonl", _dpo_row, "dpo_eval")):
        p = d / name
        if p.is_file():
            setattr(job, attr, read_jsonl(p, parse))
    if recipe.backend == "tiny" and not recipe.base_model.is_file():
        raise InputError(f"base model {str(recipe.base_model)!r} not found")
    if recipe.serving_adapter is not None and not recipe.serving_adapter.is_file():
        raise InputError(f"serving adapter {str(recipe.serving_adapter)!r} not found")
    for p in recipe.merge_with:
        if not p.is_file():
            raise InputError(f"adapter to merge {str(p)!r} not found")
    return job


def replay_pools(job: Job) -> list[tuple[str, list[SftExample], float]]:
    """The replayed sets mixed into SFT batches, by name, each with its share of a batch: the Golden
    Anchor's replay part, then the general-English set. A set with no rows takes no share."""
    r = job.recipe
    pools = (("anchor", job.anchor, r.anchor_ratio), ("general", job.general, r.general_replay_ratio))
    return [(name, rows, ratio) for name, rows, ratio in pools if rows and ratio > 0]


def resolve_steps(job: Job) -> tuple[int, int]:
    """SFT and preference step counts: explicit steps win, otherwise `epochs` passes over each set
    (the SFT rows fill a batch's non-replay share, so the replayed anchor and general rows come on
    top), capped by `max_steps`. The preference phase trains on the pairs and the unpaired negatives together."""
    r = job.recipe
    n_pref = max(len(job.dpo), len(job.negatives))

    def from_epochs(n_rows: int, per_step: float) -> int:
        if not r.epochs or not n_rows:
            return 0
        steps = math.ceil(r.epochs * n_rows / max(per_step, 1e-9))
        return min(steps, r.max_steps) if r.max_steps else steps

    sft_share = r.batch * (1 - sum(ratio for _, _, ratio in replay_pools(job)))
    sft = r.sft_steps if r.sft_steps is not None else from_epochs(len(job.sft), sft_share)
    dpo = r.dpo_steps if r.dpo_steps is not None else from_epochs(n_pref, r.batch)
    if sft > 0 and not job.sft:
        raise InputError("SFT steps requested but sft.jsonl is missing or empty")
    if dpo > 0 and not job.dpo and not job.negatives:
        raise InputError("DPO steps requested but dpo.jsonl and negatives.jsonl are missing or empty")
    if sft == 0 and dpo == 0:
        raise InputError("nothing to train: 0 SFT steps and 0 DPO steps")
    return sft, dpo


def check_vocab(job: Job, vocab_size: int, max_len: int | None) -> None:
    """Token ids must exist in the model; sequences must fit its context."""

    def check(seq: list[int], where: str) -> None:
        bad = next((t for t in seq if t < 0 or t >= vocab_size), None)
        if bad is not None:
            raise InputError(f"{where}: token id {bad} outside the model's vocabulary (0..{vocab_size - 1})")
        if max_len is not None and len(seq) > max_len:
            raise InputError(f"{where}: {len(seq)} tokens exceed the model's context length {max_len}")

    for name, rows in (("sft.jsonl", job.sft), ("anchor.jsonl", job.anchor), ("general.jsonl", job.general)):
        for i, ex in enumerate(rows, 1):
            check(ex.tokens, f"{name} row {i}")
    for name, pairs in (("dpo.jsonl", job.dpo), ("dpo_eval.jsonl", job.dpo_eval)):
        for i, ex in enumerate(pairs, 1):
            check(ex.prompt + ex.chosen, f"{name} row {i} (prompt+chosen)")
            check(ex.prompt + ex.rejected, f"{name} row {i} (prompt+rejected)")
    for i, neg in enumerate(job.negatives, 1):
        check(neg.prompt + neg.rejected, f"negatives.jsonl row {i} (prompt+rejected)")
