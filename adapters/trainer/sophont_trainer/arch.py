"""What each GGUF architecture means for the forward: hyper-parameters read as llama.cpp reads them.

Supported (the families users run at the Soul's sizes), as llama.cpp builds them (src/models/*.cpp):
  llama     RMSNorm, RoPE "normal" (adjacent pairs), GQA, SwiGLU; with `expert_count` it is Mixtral:
            a softmax router, top-k experts, weights renormalised over the chosen k
  qwen2     llama's graph with q/k/v biases and RoPE "neox" (half-split pairs)
  qwen3     RoPE neox, RMSNorm of each q and k head (attn_q_norm / attn_k_norm) before the rotation
  qwen3moe  qwen3's attention, Mixtral's router and experts (expert_feed_forward_length)
  gpt-oss   biases everywhere, attention sinks, sliding-window attention on even layers, a router
            whose softmax runs over the chosen experts' logits, SwiGLU-OAI (alpha 1.702, limit 7)
"""

from __future__ import annotations

from dataclasses import dataclass

from .gguf import GGUFError, GGUFFile

ARCHITECTURES = ("llama", "qwen2", "qwen3", "qwen3moe", "gpt-oss")
NEOX = {"qwen2", "qwen3", "qwen3moe", "gpt-oss"}


@dataclass(frozen=True)
class ModelConfig:
    arch: str
    n_vocab: int
    n_embd: int
    n_layer: int
    n_head: int
    n_head_kv: int
    head_dim: int
    n_ff: int
    rms_eps: float
    rope_base: float
    rope_freq_scale: float
    rope_neox: bool
    n_ctx_train: int
    qk_norm: bool = False
    n_expert: int = 0
    n_expert_used: int = 0
    n_ff_exp: int = 0
    expert_weights_scale: float = 0.0
    sliding_window: int = 0  # gpt-oss: the window of its sliding-window layers
    swa_period: int = 0  # layer il slides when il % period < period - 1 (gpt-oss: 2, the even layers)
    sinks: bool = False
    gating: str = "softmax"  # "softmax" (llama/qwen3moe) | "softmax_weight" (gpt-oss)

    def is_swa(self, il: int) -> bool:
        return self.sliding_window > 0 and self.swa_period > 0 and il % self.swa_period < self.swa_period - 1


def config_from_gguf(g: GGUFFile) -> ModelConfig:
    arch = g.get("general.architecture")
    if arch not in ARCHITECTURES:
        raise GGUFError(f"architecture {arch!r} is not supported by the trainer (supported: {', '.join(ARCHITECTURES)})")
    p = f"{arch}."
    n_embd = int(g.require(p + "embedding_length"))
    n_head = int(g.require(p + "attention.head_count"))
    n_head_kv = int(g.get(p + "attention.head_count_kv", n_head))
    key_length = int(g.get(p + "attention.key_length", 0))
    value_length = int(g.get(p + "attention.value_length", key_length))
    if value_length != key_length:
        raise GGUFError(f"attention.value_length {value_length} != key_length {key_length}: not supported")
    if (not key_length and n_embd % n_head) or n_head % n_head_kv:
        raise GGUFError(f"inconsistent heads: n_embd={n_embd} n_head={n_head} n_head_kv={n_head_kv}")
    head_dim = key_length or n_embd // n_head
    n_rot = int(g.get(p + "rope.dimension_count", head_dim))
    if n_rot != head_dim:
        raise GGUFError(f"rope.dimension_count {n_rot} != head dim {head_dim}: partial rotation is not supported")
    scaling = g.get(p + "rope.scaling.type", "none")
    freq_scale = 1.0
    if scaling == "linear":
        freq_scale = 1.0 / float(g.require(p + "rope.scaling.factor"))
    elif scaling not in ("none", None):
        raise GGUFError(f"rope scaling {scaling!r} is not supported by the trainer's forward (none, linear)")
    n_expert = int(g.get(p + "expert_count", 0))
    if arch in ("qwen3moe", "gpt-oss") and n_expert == 0:
        raise GGUFError(f"{arch} needs {p}expert_count > 0")
    embd = g.tensors.get("token_embd.weight")
    return ModelConfig(
        arch=arch,
        n_vocab=int(embd.shape[0]) if embd is not None else 0,
        n_embd=n_embd,
        n_layer=int(g.require(p + "block_count")),
        n_head=n_head,
        n_head_kv=n_head_kv,
        head_dim=head_dim,
        n_ff=int(g.get(p + "feed_forward_length", 0)),
        rms_eps=float(g.require(p + "attention.layer_norm_rms_epsilon")),
        rope_base=float(g.get(p + "rope.freq_base", 10000.0)),
        rope_freq_scale=freq_scale,
        rope_neox=arch in NEOX,
        n_ctx_train=int(g.require(p + "context_length")),
        qk_norm=arch in ("qwen3", "qwen3moe"),
        n_expert=n_expert,
        n_expert_used=int(g.get(p + "expert_used_count", 0)),
        n_ff_exp=int(g.get(p + "expert_feed_forward_length", g.get(p + "feed_forward_length", 0))),
        expert_weights_scale=float(g.get(p + "expert_weights_scale", 0.0)),
        sliding_window=int(g.get(p + "attention.sliding_window", 0)) if arch == "gpt-oss" else 0,
        swa_period=int(g.get(p + "attention.sliding_window_pattern", 2)) if arch == "gpt-oss" else 0,
        sinks=arch == "gpt-oss",
        gating="softmax_weight" if arch == "gpt-oss" else "softmax",
    )


def layer_shapes(cfg: ModelConfig, i: int) -> dict[str, tuple[int, ...]]:
    """numpy shapes of the tensors block i must have (optional biases are checked where present)."""
    b = f"blk.{i}."
    q_out, kv = cfg.head_dim * cfg.n_head, cfg.head_dim * cfg.n_head_kv
    s: dict[str, tuple[int, ...]] = {
        b + "attn_norm.weight": (cfg.n_embd,),
        b + "attn_q.weight": (q_out, cfg.n_embd),
        b + "attn_k.weight": (kv, cfg.n_embd),
        b + "attn_v.weight": (kv, cfg.n_embd),
        b + "attn_output.weight": (cfg.n_embd, q_out),
    }
    s[b + ("post_attention_norm.weight" if cfg.arch == "gpt-oss" else "ffn_norm.weight")] = (cfg.n_embd,)
    if cfg.qk_norm:
        s[b + "attn_q_norm.weight"] = (cfg.head_dim,)
        s[b + "attn_k_norm.weight"] = (cfg.head_dim,)
    if cfg.sinks:
        s[b + "attn_sinks.weight"] = (cfg.n_head,)
    if cfg.n_expert:
        e, f = cfg.n_expert, cfg.n_ff_exp
        s[b + "ffn_gate_inp.weight"] = (e, cfg.n_embd)
        s[b + "ffn_gate_exps.weight"] = (e, f, cfg.n_embd)
        s[b + "ffn_up_exps.weight"] = (e, f, cfg.n_embd)
        s[b + "ffn_down_exps.weight"] = (e, cfg.n_embd, f)
    else:
        s[b + "ffn_gate.weight"] = (cfg.n_ff, cfg.n_embd)
        s[b + "ffn_up.weight"] = (cfg.n_ff, cfg.n_embd)
        s[b + "ffn_down.weight"] = (cfg.n_embd, cfg.n_ff)
    return s


def expected_shapes(cfg: ModelConfig, tied: bool) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {"token_embd.weight": (cfg.n_vocab, cfg.n_embd), "output_norm.weight": (cfg.n_embd,)}
    if not tied:
        shapes["output.weight"] = (cfg.n_vocab, cfg.n_embd)
    for i in range(cfg.n_layer):
        shapes.update(layer_shapes(cfg, i))
    return shapes
