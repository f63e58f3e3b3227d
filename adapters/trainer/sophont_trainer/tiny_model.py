"""A tiny random llama GGUF that llama.cpp loads: for tests and for the trainer's own checks.

(The project's real tiny models are written by the TypeScript side; this one exists so the trainer
can be tested on its own.) The vocabulary is a minimal SentencePiece-style ("llama") one:
<unk>, <s>, </s>, the 256 byte tokens, then plain pieces.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import gguf
from .gguf import ValueType

# llama.cpp's token types (llama_token_type)
NORMAL, UNKNOWN, CONTROL, BYTE = 1, 2, 3, 6
N_FIXED = 3 + 256


@dataclass(frozen=True)
class TinySpec:
    n_vocab: int = 288
    n_embd: int = 32
    n_layer: int = 2
    n_head: int = 4
    n_head_kv: int = 2
    n_ff: int = 64
    n_ctx: int = 128
    rms_eps: float = 1e-5
    rope_base: float = 10000.0
    tied: bool = False
    seed: int = 0
    f16: bool = False


def vocab(n: int) -> tuple[list[str], list[int], list[float]]:
    """All 256 byte tokens are present: llama.cpp's SPM tokenizer falls back to them for any
    character without a piece, and throws (uncaught, killing the process) when one is missing."""
    if n < N_FIXED:
        raise ValueError(f"the tiny vocabulary needs at least {N_FIXED} tokens (3 special + 256 bytes)")
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    tokens += [f"\u2581t{i}" for i in range(N_FIXED, n)]
    types = [UNKNOWN, CONTROL, CONTROL] + [BYTE] * 256 + [NORMAL] * (n - N_FIXED)
    scores = [0.0] * N_FIXED + [-float(i) for i in range(N_FIXED, n)]
    return tokens, types, scores


def tiny_tensors(spec: TinySpec) -> dict[str, np.ndarray]:
    """Random weights scaled so activations stay O(1) and the next-token distribution is not flat."""
    rng = np.random.default_rng(spec.seed)
    head_dim = spec.n_embd // spec.n_head
    kv = head_dim * spec.n_head_kv

    def lin(n_out: int, n_in: int, gain: float = 1.0) -> np.ndarray:
        return (rng.standard_normal((n_out, n_in)) * gain / np.sqrt(n_in)).astype(np.float32)

    def norm(n: int) -> np.ndarray:
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    t: dict[str, np.ndarray] = {"token_embd.weight": rng.standard_normal((spec.n_vocab, spec.n_embd)).astype(np.float32)}
    for i in range(spec.n_layer):
        b = f"blk.{i}."
        t[b + "attn_norm.weight"] = norm(spec.n_embd)
        t[b + "attn_q.weight"] = lin(spec.n_embd, spec.n_embd, 2.0)
        t[b + "attn_k.weight"] = lin(kv, spec.n_embd, 2.0)
        t[b + "attn_v.weight"] = lin(kv, spec.n_embd)
        t[b + "attn_output.weight"] = lin(spec.n_embd, spec.n_embd)
        t[b + "ffn_norm.weight"] = norm(spec.n_embd)
        t[b + "ffn_gate.weight"] = lin(spec.n_ff, spec.n_embd)
        t[b + "ffn_up.weight"] = lin(spec.n_ff, spec.n_embd)
        t[b + "ffn_down.weight"] = lin(spec.n_embd, spec.n_ff)
    t["output_norm.weight"] = norm(spec.n_embd)
    if not spec.tied:
        t["output.weight"] = lin(spec.n_vocab, spec.n_embd, 3.0)
    if spec.f16:
        # llama.cpp keeps 1-d norms in F32; the matrices may be F16
        t = {k: (v.astype(np.float16) if v.ndim == 2 else v) for k, v in t.items()}
    return t


def tiny_metadata(spec: TinySpec) -> dict[str, gguf.Value]:
    tokens, types, scores = vocab(spec.n_vocab)
    a = "llama."
    return {
        "general.architecture": gguf.string("llama"),
        "general.name": gguf.string("sophont-trainer-tiny"),
        "general.file_type": gguf.u32(1 if spec.f16 else 0),
        a + "context_length": gguf.u32(spec.n_ctx),
        a + "embedding_length": gguf.u32(spec.n_embd),
        a + "block_count": gguf.u32(spec.n_layer),
        a + "feed_forward_length": gguf.u32(spec.n_ff),
        a + "attention.head_count": gguf.u32(spec.n_head),
        a + "attention.head_count_kv": gguf.u32(spec.n_head_kv),
        a + "attention.layer_norm_rms_epsilon": gguf.f32(spec.rms_eps),
        a + "rope.freq_base": gguf.f32(spec.rope_base),
        a + "rope.dimension_count": gguf.u32(spec.n_embd // spec.n_head),
        a + "vocab_size": gguf.u32(spec.n_vocab),
        "tokenizer.ggml.model": gguf.string("llama"),
        "tokenizer.ggml.tokens": gguf.array(ValueType.STRING, tokens),
        "tokenizer.ggml.scores": gguf.array(ValueType.FLOAT32, scores),
        "tokenizer.ggml.token_type": gguf.array(ValueType.INT32, types),
        "tokenizer.ggml.bos_token_id": gguf.u32(1),
        "tokenizer.ggml.eos_token_id": gguf.u32(2),
        "tokenizer.ggml.unknown_token_id": gguf.u32(0),
        "tokenizer.ggml.add_bos_token": gguf.Value(ValueType.BOOL, False),
    }


def write_tiny_model(path: str | Path, spec: TinySpec = TinySpec()) -> None:
    gguf.write_gguf(path, tiny_metadata(spec), tiny_tensors(spec))
