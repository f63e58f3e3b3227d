"""The tiny back-end: a llama forward pass in PyTorch over a GGUF model's own tensors.

It follows what llama.cpp computes for `general.architecture = "llama"` (src/models/llama.cpp):
RMSNorm (x / sqrt(mean(x^2) + eps) * w), RoPE in "normal" mode, i.e. rotating the *adjacent*
pairs (x[2i], x[2i+1]) of each head -- llama.cpp's HF converter permutes the rows of Q and K so
that HF's half-split ("neox") rotation becomes this one, hence a GGUF's Q/K weights are already in
the layout this module expects --, attention scaled by 1/sqrt(head_dim) with causal masking,
grouped-query attention (query head h reads kv head h // (n_head / n_head_kv)), and a SwiGLU FFN.

LoRA pairs are applied on top of the frozen base weights exactly as llama.cpp's build_lora_mm does:
y = W x + (alpha / rank) * B (A x).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .gguf import GGUFError, GGUFFile, read_gguf
from .lora import LoraPair, LoraSet, LoraSwitch

ARCH = "llama"

# LoRA target names (as the recipe spells them) -> GGUF tensor name templates
TARGETS: dict[str, str] = {
    "attn_q": "blk.{i}.attn_q.weight",
    "attn_k": "blk.{i}.attn_k.weight",
    "attn_v": "blk.{i}.attn_v.weight",
    "attn_output": "blk.{i}.attn_output.weight",
    "ffn_gate": "blk.{i}.ffn_gate.weight",
    "ffn_up": "blk.{i}.ffn_up.weight",
    "ffn_down": "blk.{i}.ffn_down.weight",
    "output": "output.weight",
}


@dataclass(frozen=True)
class LlamaConfig:
    n_vocab: int
    n_embd: int
    n_layer: int
    n_head: int
    n_head_kv: int
    n_ff: int
    rms_eps: float
    rope_base: float
    rope_freq_scale: float
    n_ctx_train: int
    # llama.attention.key_length: the head size when it is not n_embd / n_head (0: the default).
    key_length: int = 0

    @property
    def head_dim(self) -> int:
        return self.key_length or self.n_embd // self.n_head


def config_from_gguf(g: GGUFFile) -> LlamaConfig:
    arch = g.get("general.architecture")
    if arch != ARCH:
        raise GGUFError(f"the tiny back-end reads llama models, this one is {arch!r}")
    p = f"{ARCH}."
    n_embd = int(g.require(p + "embedding_length"))
    n_head = int(g.require(p + "attention.head_count"))
    n_head_kv = int(g.get(p + "attention.head_count_kv", n_head))
    key_length = int(g.get(p + "attention.key_length", 0))
    value_length = int(g.get(p + "attention.value_length", key_length))
    if value_length != key_length:
        raise GGUFError(f"attention.value_length {value_length} != key_length {key_length}: not supported by the tiny back-end")
    if (not key_length and n_embd % n_head) or n_head % n_head_kv:
        raise GGUFError(f"inconsistent heads: n_embd={n_embd} n_head={n_head} n_head_kv={n_head_kv}")
    head_dim = key_length or n_embd // n_head
    n_rot = int(g.get(p + "rope.dimension_count", head_dim))
    if n_rot != head_dim:
        # llama.cpp asserts the same for this architecture
        raise GGUFError(f"rope.dimension_count {n_rot} != head dim {head_dim}")
    scaling = g.get(p + "rope.scaling.type", "none")
    freq_scale = 1.0
    if scaling == "linear":
        freq_scale = 1.0 / float(g.require(p + "rope.scaling.factor"))
    elif scaling not in ("none", None):
        raise GGUFError(f"rope scaling {scaling!r} is not supported by the tiny back-end")
    return LlamaConfig(
        n_vocab=int(g.tensors["token_embd.weight"].data.shape[0]) if "token_embd.weight" in g.tensors else 0,
        n_embd=n_embd,
        n_layer=int(g.require(p + "block_count")),
        n_head=n_head,
        n_head_kv=n_head_kv,
        n_ff=int(g.require(p + "feed_forward_length")),
        rms_eps=float(g.require(p + "attention.layer_norm_rms_epsilon")),
        rope_base=float(g.get(p + "rope.freq_base", 10000.0)),
        rope_freq_scale=freq_scale,
        n_ctx_train=int(g.require(p + "context_length")),
        key_length=key_length if key_length and key_length != n_embd // n_head else 0,
    )


def expected_shapes(cfg: LlamaConfig, tied: bool) -> dict[str, tuple[int, ...]]:
    """numpy shapes [out, in] of every tensor the forward reads (ggml ne reversed)."""
    kv = cfg.head_dim * cfg.n_head_kv
    q_out = cfg.head_dim * cfg.n_head
    shapes: dict[str, tuple[int, ...]] = {
        "token_embd.weight": (cfg.n_vocab, cfg.n_embd),
        "output_norm.weight": (cfg.n_embd,),
    }
    if not tied:
        shapes["output.weight"] = (cfg.n_vocab, cfg.n_embd)
    for i in range(cfg.n_layer):
        b = f"blk.{i}."
        shapes.update(
            {
                b + "attn_norm.weight": (cfg.n_embd,),
                b + "attn_q.weight": (q_out, cfg.n_embd),
                b + "attn_k.weight": (kv, cfg.n_embd),
                b + "attn_v.weight": (kv, cfg.n_embd),
                b + "attn_output.weight": (cfg.n_embd, q_out),
                b + "ffn_norm.weight": (cfg.n_embd,),
                b + "ffn_gate.weight": (cfg.n_ff, cfg.n_embd),
                b + "ffn_up.weight": (cfg.n_ff, cfg.n_embd),
                b + "ffn_down.weight": (cfg.n_embd, cfg.n_ff),
            }
        )
    return shapes


def rms_norm(x: torch.Tensor, w: torch.Tensor, eps: float) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope_tables(
    cfg: LlamaConfig, n_pos: int, device: torch.device, freq_factors: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin of shape [n_pos, head_dim/2]; theta_i = pos * base^(-2i/d) * freq_scale / ff_i."""
    d = cfg.head_dim
    inv = cfg.rope_base ** (-torch.arange(0, d, 2, dtype=torch.float64, device=device) / d)
    if freq_factors is not None:
        inv = inv / freq_factors.to(torch.float64)
    pos = torch.arange(n_pos, dtype=torch.float64, device=device)
    theta = torch.outer(pos, inv) * cfg.rope_freq_scale
    return theta.cos().float(), theta.sin().float()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x: [B, T, H, D]; rotate adjacent pairs (llama.cpp's LLAMA_ROPE_TYPE_NORM)."""
    x0 = x[..., 0::2]
    x1 = x[..., 1::2]
    c = cos[None, :, None, :]
    s = sin[None, :, None, :]
    out = torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1)
    return out.flatten(-2)


class TinyLlama(LoraSwitch):
    """Frozen base weights + a trainable LoraSet. Implements the trainer's back-end protocol."""

    architecture = ARCH

    def __init__(self, g: GGUFFile, device: torch.device) -> None:
        self.cfg = config_from_gguf(g)
        self.device = device
        self.tied = "output.weight" not in g.tensors
        shapes = expected_shapes(self.cfg, self.tied)
        self.w: dict[str, torch.Tensor] = {}
        for name, shape in shapes.items():
            if name not in g.tensors:
                raise GGUFError(f"base model lacks tensor {name!r}")
            arr = g.array(name)
            if tuple(arr.shape) != shape:
                raise GGUFError(f"tensor {name!r} has shape {arr.shape}, expected {shape}")
            self.w[name] = torch.from_numpy(arr).to(device)
        ff = g.tensors.get("rope_freqs.weight")
        self.freq_factors = torch.from_numpy(ff.data.astype(np.float32)).to(device) if ff else None
        self.lora = LoraSet(rank=1, alpha=1.0)
        self.lora_enabled = True

    # ---------------------------------------------------------------- back-end protocol

    @property
    def vocab_size(self) -> int:
        return self.cfg.n_vocab

    def target_weights(self, targets: list[str]) -> dict[str, tuple[int, int]]:
        """GGUF names and [out, in] shapes of the linear weights the targets select."""
        out: dict[str, tuple[int, int]] = {}
        for t in targets:
            if t not in TARGETS:
                raise ValueError(f"unknown target module {t!r}; known: {sorted(TARGETS)}")
            layers = [0] if t == "output" else range(self.cfg.n_layer)
            for i in layers:
                name = TARGETS[t].format(i=i)
                if name in self.w:
                    shape = self.w[name].shape
                    out[name] = (int(shape[0]), int(shape[1]))
        return out

    @property
    def max_len(self) -> int:
        return self.cfg.n_ctx_train

    def base_shapes(self) -> dict[str, tuple[int, ...]]:
        return {k: tuple(v.shape) for k, v in self.w.items()}

    def export_pairs(self, lora: LoraSet) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """GGUF orientation is this back-end's own: nothing to re-order."""
        return {n: (p.a.detach().cpu().numpy(), p.b.detach().cpu().numpy()) for n, p in lora.pairs.items()}

    def import_pairs(self, pairs: dict[str, tuple[np.ndarray, np.ndarray]], alpha: float) -> LoraSet:
        rank = max(a.shape[0] for a, _ in pairs.values())
        return LoraSet(rank, alpha, {n: LoraPair(torch.from_numpy(a), torch.from_numpy(b)) for n, (a, b) in pairs.items()})

    def attach_lora(self, lora: LoraSet) -> None:
        self.lora = lora.to(self.device)

    def add_to_base(self, deltas: dict[str, torch.Tensor]) -> None:
        """Folds full weight deltas (GGUF layout) into the frozen base: the serving adapter, applied."""
        for name, d in deltas.items():
            self.w[name] = self.w[name] + d.to(self.device, self.w[name].dtype)


    def logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens [B, T] (right-padded; causal attention makes the padding harmless) -> [B, T, V]."""
        cfg = self.cfg
        bsz, n = tokens.shape
        h = F.embedding(tokens, self.w["token_embd.weight"])
        cos, sin = rope_tables(cfg, n, self.device, self.freq_factors)
        causal = torch.ones(n, n, dtype=torch.bool, device=self.device).tril()
        group = cfg.n_head // cfg.n_head_kv
        for i in range(cfg.n_layer):
            b = f"blk.{i}."
            x = rms_norm(h, self.w[b + "attn_norm.weight"], cfg.rms_eps)
            q = self._linear(b + "attn_q.weight", x).view(bsz, n, cfg.n_head, cfg.head_dim)
            k = self._linear(b + "attn_k.weight", x).view(bsz, n, cfg.n_head_kv, cfg.head_dim)
            v = self._linear(b + "attn_v.weight", x).view(bsz, n, cfg.n_head_kv, cfg.head_dim)
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
            k = k.repeat_interleave(group, dim=2)
            v = v.repeat_interleave(group, dim=2)
            att = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(cfg.head_dim)
            att = att.masked_fill(~causal, float("-inf")).softmax(-1)
            o = torch.einsum("bhqk,bkhd->bqhd", att, v).reshape(bsz, n, cfg.n_head * cfg.head_dim)
            h = h + self._linear(b + "attn_output.weight", o)
            x = rms_norm(h, self.w[b + "ffn_norm.weight"], cfg.rms_eps)
            gate = self._linear(b + "ffn_gate.weight", x)
            up = self._linear(b + "ffn_up.weight", x)
            h = h + self._linear(b + "ffn_down.weight", F.silu(gate) * up)
        h = rms_norm(h, self.w["output_norm.weight"], cfg.rms_eps)
        out_name = "token_embd.weight" if self.tied else "output.weight"
        return self._linear(out_name, h)

    # ----------------------------------------------------------------

    def _linear(self, name: str, x: torch.Tensor) -> torch.Tensor:
        y = x @ self.w[name].T
        pair: LoraPair | None = self.lora.pairs.get(name) if self.lora_enabled else None
        if pair is not None:
            y = y + self.lora.scale * ((x @ pair.a.T) @ pair.b.T)
        return y


def load_tiny(path: str, device: torch.device) -> tuple[TinyLlama, GGUFFile]:
    g = read_gguf(path)
    return TinyLlama(g, device), g
