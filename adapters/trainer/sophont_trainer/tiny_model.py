"""Tiny random GGUF models that llama.cpp loads: for tests and for the trainer's own checks.

One per supported architecture (llama, mixtral = llama with experts, qwen2, qwen3, qwen3moe, gpt-oss)
and quant type (the matrices stored as F32, F16, BF16, Q8_0, Q4_K, Q5_K, Q6_K or MXFP4, quantized
from float by quants.py; norms stay F32 as llama.cpp's converter keeps them). The K-quants need
rows that are multiples of 256 values, so their models need n_embd and n_ff of 256 or more.

(The project's real tiny models are written by the TypeScript side; this one exists so the trainer
can be tested on its own.) The vocabulary is a minimal SentencePiece-style ("llama") one:
<unk>, <s>, </s>, the 256 byte tokens, then plain pieces.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import gguf
from .gguf import Tensor, ValueType
from .quants import GGMLType

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
    # "llama" | "mixtral" | "qwen2" | "qwen3" | "qwen3moe" | "gpt-oss"
    arch: str = "llama"
    # the matrices' type (F32 unless f16); 1-d tensors stay F32
    quant: str = ""
    # the expert tensors' type where it differs (gpt-oss ships MXFP4 experts beside other matrices)
    expert_quant: str = ""
    n_expert: int = 4
    n_expert_used: int = 2
    n_ff_exp: int = 0  # default n_ff
    sliding_window: int = 4

    @property
    def moe(self) -> bool:
        return self.arch in ("mixtral", "qwen3moe", "gpt-oss")

    @property
    def gguf_arch(self) -> str:
        return "llama" if self.arch == "mixtral" else self.arch

    @property
    def matrix_type(self) -> GGMLType:
        return GGMLType[self.quant] if self.quant else (GGMLType.F16 if self.f16 else GGMLType.F32)


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
    _arch_tensors(spec, t, rng)
    return t


def _arch_tensors(spec: TinySpec, t: dict[str, np.ndarray], rng: np.random.Generator) -> None:
    """What the other architectures add to (or take from) llama's tensors; drawn after llama's, so a
    llama spec keeps its weights."""
    head_dim = spec.n_embd // spec.n_head
    kv = head_dim * spec.n_head_kv
    f = spec.n_ff_exp or spec.n_ff

    def small(*shape: int) -> np.ndarray:
        return (0.1 * rng.standard_normal(shape)).astype(np.float32)

    for i in range(spec.n_layer):
        b = f"blk.{i}."
        if spec.arch in ("qwen2", "gpt-oss"):
            t[b + "attn_q.bias"], t[b + "attn_k.bias"], t[b + "attn_v.bias"] = small(spec.n_embd), small(kv), small(kv)
        if spec.arch in ("qwen3", "qwen3moe"):
            t[b + "attn_q_norm.weight"] = (1.0 + 0.1 * rng.standard_normal(head_dim)).astype(np.float32)
            t[b + "attn_k_norm.weight"] = (1.0 + 0.1 * rng.standard_normal(head_dim)).astype(np.float32)
        if spec.moe:
            for name in ("ffn_gate", "ffn_up", "ffn_down"):
                del t[b + name + ".weight"]
            e = spec.n_expert
            t[b + "ffn_gate_inp.weight"] = (rng.standard_normal((e, spec.n_embd)) * 2 / np.sqrt(spec.n_embd)).astype(np.float32)
            t[b + "ffn_gate_exps.weight"] = (rng.standard_normal((e, f, spec.n_embd)) / np.sqrt(spec.n_embd)).astype(np.float32)
            t[b + "ffn_up_exps.weight"] = (rng.standard_normal((e, f, spec.n_embd)) / np.sqrt(spec.n_embd)).astype(np.float32)
            t[b + "ffn_down_exps.weight"] = (rng.standard_normal((e, spec.n_embd, f)) / np.sqrt(f)).astype(np.float32)
        if spec.arch == "gpt-oss":
            t[b + "post_attention_norm.weight"] = t.pop(b + "ffn_norm.weight")
            t[b + "attn_output.bias"] = small(spec.n_embd)
            t[b + "attn_sinks.weight"] = rng.standard_normal(spec.n_head).astype(np.float32)
            t[b + "ffn_gate_inp.bias"] = small(spec.n_expert)
            t[b + "ffn_gate_exps.bias"] = small(spec.n_expert, f)
            t[b + "ffn_up_exps.bias"] = small(spec.n_expert, f)
            t[b + "ffn_down_exps.bias"] = small(spec.n_expert, spec.n_embd)


def typed_tensors(spec: TinySpec) -> dict[str, Tensor]:
    """The tensors with their GGUF types: matrices in the spec's type, the rest F32."""
    out: dict[str, Tensor] = {}
    for name, v in tiny_tensors(spec).items():
        ttype = GGMLType.F32
        if v.ndim >= 2 and not name.endswith(".bias"):
            ttype = spec.matrix_type
            if "_exps." in name and spec.expert_quant:
                ttype = GGMLType[spec.expert_quant]
        out[name] = Tensor(name, v.astype(np.float16) if ttype == GGMLType.F16 else v, ttype)
    return out


# general.file_type as llama.cpp's llama_ftype numbers it (informational: what llama-cli prints)
_FILE_TYPE = {GGMLType.F32: 0, GGMLType.F16: 1, GGMLType.Q8_0: 7, GGMLType.Q4_K: 15, GGMLType.Q5_K: 17,
              GGMLType.Q6_K: 18, GGMLType.BF16: 32, GGMLType.MXFP4: 38}


def tiny_metadata(spec: TinySpec) -> dict[str, gguf.Value]:
    tokens, types, scores = vocab(spec.n_vocab)
    a = spec.gguf_arch + "."
    meta = {
        "general.architecture": gguf.string(spec.gguf_arch),
        "general.name": gguf.string("sophont-trainer-tiny"),
        "general.file_type": gguf.u32(_FILE_TYPE[spec.matrix_type]),
        a + "context_length": gguf.u32(spec.n_ctx),
        a + "embedding_length": gguf.u32(spec.n_embd),
        a + "block_count": gguf.u32(spec.n_layer),
        # Mixtral (llama with experts) has no dense FFN: its feed_forward_length is the experts' width
        a + "feed_forward_length": gguf.u32((spec.n_ff_exp or spec.n_ff) if spec.arch == "mixtral" else spec.n_ff),
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
    if spec.moe:
        meta[a + "expert_count"] = gguf.u32(spec.n_expert)
        meta[a + "expert_used_count"] = gguf.u32(spec.n_expert_used)
        if spec.arch != "mixtral":
            meta[a + "expert_feed_forward_length"] = gguf.u32(spec.n_ff_exp or spec.n_ff)
    if spec.arch == "gpt-oss":
        meta[a + "attention.sliding_window"] = gguf.u32(spec.sliding_window)
    return meta


def write_tiny_model(path: str | Path, spec: TinySpec = TinySpec()) -> None:
    gguf.write_gguf(path, tiny_metadata(spec), typed_tensors(spec))
