"""A stand-in for `transformers`, for testing the hf back-end where transformers is absent.

`AutoModelForCausalLM.from_pretrained(dir)` reads `dir/model.gguf` (a tiny llama) and builds an
HF-layout llama from it: q/k rows un-permuted back to HF order and HF's half-split ("rotate_half")
RoPE, with the module tree the hf back-end hooks (model.layers[i].self_attn.q_proj, ..., lm_head).
If the back-end's export permutation were wrong, its adapters would not match in llama.cpp layout.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sophont_trainer import gguf
from sophont_trainer.hf_backend import unpermute_rows
from sophont_trainer.llama import config_from_gguf


def _linear(w: torch.Tensor) -> nn.Linear:
    lin = nn.Linear(w.shape[1], w.shape[0], bias=False)
    lin.weight.data = w.clone()
    return lin


class _RMSNorm(nn.Module):
    def __init__(self, w: torch.Tensor, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(w.clone())
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class _Layer(nn.Module):
    def __init__(self, g: gguf.GGUFFile, i: int, cfg: Any) -> None:
        super().__init__()
        t = lambda n: torch.from_numpy(g.array(f"blk.{i}.{n}.weight"))  # noqa: E731
        q = torch.from_numpy(unpermute_rows(g.array(f"blk.{i}.attn_q.weight"), cfg.n_head, cfg.n_head))
        k = torch.from_numpy(unpermute_rows(g.array(f"blk.{i}.attn_k.weight"), cfg.n_head, cfg.n_head_kv))
        self.input_layernorm = _RMSNorm(t("attn_norm"), cfg.rms_eps)
        self.post_attention_layernorm = _RMSNorm(t("ffn_norm"), cfg.rms_eps)
        self.self_attn = nn.Module()
        self.self_attn.q_proj, self.self_attn.k_proj = _linear(q), _linear(k)
        self.self_attn.v_proj, self.self_attn.o_proj = _linear(t("attn_v")), _linear(t("attn_output"))
        self.mlp = nn.Module()
        self.mlp.gate_proj, self.mlp.up_proj = _linear(t("ffn_gate")), _linear(t("ffn_up"))
        self.mlp.down_proj = _linear(t("ffn_down"))
        self.cfg = cfg

    def forward(self, h: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        c = self.cfg
        b, n, _ = h.shape
        x = self.input_layernorm(h)
        a = self.self_attn
        q = a.q_proj(x).view(b, n, c.n_head, c.head_dim).transpose(1, 2)
        k = a.k_proj(x).view(b, n, c.n_head_kv, c.head_dim).transpose(1, 2)
        v = a.v_proj(x).view(b, n, c.n_head_kv, c.head_dim).transpose(1, 2)
        q, k = q * cos + _rotate_half(q) * sin, k * cos + _rotate_half(k) * sin
        rep = c.n_head // c.n_head_kv
        k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
        att = (q @ k.transpose(-1, -2)) / c.head_dim ** 0.5
        att = att.masked_fill(~torch.ones(n, n, dtype=torch.bool).tril(), float("-inf")).softmax(-1)
        h = h + a.o_proj((att @ v).transpose(1, 2).reshape(b, n, -1))
        x = self.post_attention_layernorm(h)
        return h + self.mlp.down_proj(F.silu(self.mlp.gate_proj(x)) * self.mlp.up_proj(x))


class FakeLlamaForCausalLM(nn.Module):
    def __init__(self, g: gguf.GGUFFile) -> None:
        super().__init__()
        cfg = config_from_gguf(g)
        self.cfg = cfg
        tied = "output.weight" not in g.tensors
        self.config = SimpleNamespace(model_type="llama", num_attention_heads=cfg.n_head,
                                      num_key_value_heads=cfg.n_head_kv, max_position_embeddings=cfg.n_ctx_train,
                                      tie_word_embeddings=tied, vocab_size=cfg.n_vocab)
        self.model = nn.Module()
        self.model.embed_tokens = nn.Embedding(cfg.n_vocab, cfg.n_embd)
        self.model.embed_tokens.weight.data = torch.from_numpy(g.array("token_embd.weight"))
        self.model.layers = nn.ModuleList(_Layer(g, i, cfg) for i in range(cfg.n_layer))
        self.model.norm = _RMSNorm(torch.from_numpy(g.array("output_norm.weight")), cfg.rms_eps)
        self.lm_head = _linear(torch.from_numpy(g.array("token_embd.weight" if tied else "output.weight")))

    def forward(self, input_ids: torch.Tensor) -> SimpleNamespace:
        c = self.cfg
        n = input_ids.shape[1]
        inv = c.rope_base ** (-torch.arange(0, c.head_dim, 2, dtype=torch.float64) / c.head_dim)
        freqs = torch.outer(torch.arange(n, dtype=torch.float64), inv)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().float(), emb.sin().float()
        h = self.model.embed_tokens(input_ids)
        for layer in self.model.layers:
            h = layer(h, cos, sin)
        return SimpleNamespace(logits=self.lm_head(self.model.norm(h)))


class AutoModelForCausalLM:
    @staticmethod
    def from_pretrained(path: str, torch_dtype: Any = None) -> FakeLlamaForCausalLM:
        return FakeLlamaForCausalLM(gguf.read_gguf(Path(path) / "model.gguf"))
