"""Shared fixtures: tiny models and job directories in temporary folders."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

TRAINER_ROOT = Path(__file__).resolve().parent.parent
if str(TRAINER_ROOT) not in sys.path:
    sys.path.insert(0, str(TRAINER_ROOT))

from sophont_trainer.tiny_model import TinySpec, write_tiny_model  # noqa: E402

SMALL = TinySpec(n_vocab=288, n_embd=16, n_layer=1, n_head=2, n_head_kv=1, n_ff=32, n_ctx=64, seed=3)


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def make_job(root: Path, recipe: dict[str, Any] | None = None, spec: TinySpec = SMALL,
             sft: bool = True, anchor: bool = True, dpo: bool = True) -> Path:
    """A job directory with a tiny base model, a patterned SFT set (easy to learn), a random
    anchor set and a DPO set whose chosen/rejected continuations are fixed per prompt."""
    root.mkdir(parents=True, exist_ok=True)
    write_tiny_model(root / "base.gguf", spec)
    rng = random.Random(7)
    if sft:
        write_jsonl(root / "sft.jsonl", [{"tokens": [1] + [260 + (i + j) % 12 for j in range(10)]} for i in range(6)])
    if anchor:
        write_jsonl(root / "anchor.jsonl", [{"tokens": [1] + [rng.randrange(3, 288) for _ in range(8)]} for _ in range(4)])
    if dpo:
        write_jsonl(root / "dpo.jsonl", [
            {"prompt_tokens": [1, 270 + i], "chosen_tokens": [200 + i, 201 + i], "rejected_tokens": [230 + i, 231 + i]}
            for i in range(4)
        ])
    base: dict[str, Any] = {
        "base_model": "base.gguf", "rank": 4, "alpha": 8, "lr": 0.02, "sft_steps": 25, "dpo_steps": 15,
        "batch": 4, "anchor_ratio": 0.25, "dpo_beta": 0.1, "seed": 11,
        "target_modules": ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down", "output"],
        "ties": {"k": 20, "lambda": 1.0}, "job_id": "test",
    }
    base.update(recipe or {})
    (root / "recipe.json").write_text(json.dumps(base))
    return root
