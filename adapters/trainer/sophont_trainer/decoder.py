"""The trainer's forward over a GGUF model's own tensors, for every architecture in arch.py.

The base weights stay as the GGUF stores them (packed quantized blocks, F16 or F32) and are
dequantized per matmul (qweight.py); LoRA pairs sit on top exactly as llama.cpp's build_lora_mm
applies them: y = W x + (alpha / rank) * B (A x), with A and B in float32.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from .arch import ModelConfig, config_from_gguf, expected_shapes
from .gguf import GGUFError, GGUFFile
from .layers import apply_rope, rms_norm, rope_tables
from .lora import LoraPair, LoraSet, LoraSwitch
from .qweight import QWeight, linear

# LoRA target names (as the recipe spells them) -> GGUF tensor name templates; llama.cpp names its
# adapter tensors after the base tensor, the same for every architecture
TARGETS: dict[str, str] = {
    "attn_q": "blk.{i}.attn_q.weight",
    "attn_k": "blk.{i}.attn_k.weight",
    "attn_v": "blk.{i}.attn_v.weight",
    "attn_output": "blk.{i}.attn_output.weight",
    "ffn_gate": "blk.{i}.ffn_gate.weight",
    "ffn_up": "blk.{i}.ffn_up.weight",
    "ffn_down": "blk.{i}.ffn_down.weight",
    "ffn_gate_inp": "blk.{i}.ffn_gate_inp.weight",  # the MoE router
    "output": "output.weight",
}


class GGUFModel(LoraSwitch):
    """Frozen (packed) base weights + a trainable LoraSet. Implements the trainer's back-end protocol."""

    def __init__(self, g: GGUFFile, device: torch.device) -> None:
        self.cfg: ModelConfig = config_from_gguf(g)
        self.architecture = self.cfg.arch
        self.device = device
        self.tied = "output.weight" not in g.tensors
        self.w: dict[str, QWeight] = {}
        for name, shape in expected_shapes(self.cfg, self.tied).items():
            if name not in g.tensors:
                raise GGUFError(f"base model lacks tensor {name!r}")
            t = g.tensors[name]
            if tuple(t.shape) != shape:
                raise GGUFError(f"tensor {name!r} has shape {t.shape}, expected {shape}")
            self.w[name] = QWeight.from_tensor(t, device)
        # optional biases (qwen2's q/k/v, gpt-oss's everywhere), kept in float32
        self.bias: dict[str, torch.Tensor] = {
            n[: -len(".bias")] + ".weight": torch.from_numpy(np.array(t.values(), dtype=np.float32)).to(device)
            for n, t in g.tensors.items() if n.endswith(".bias")
        }
        # full-weight deltas under the base (the serving adapter, see add_to_base)
        self.delta: dict[str, torch.Tensor] = {}
        ff = g.tensors.get("rope_freqs.weight")
        self.freq_factors = torch.from_numpy(ff.values()).to(device) if ff else None
        self.lora = LoraSet(rank=1, alpha=1.0)
        self.lora_enabled = True
        # True: round activations as llama.cpp's CPU matmuls do (for comparing logits, not for training)
        self.cpu_rounding = False
        # what the memory plan assumes (actors/muscle/plan.ts): one checkpoint per layer while training,
        # so a layer's activations are recomputed in the backward; bf16 matmuls on a GPU
        self.checkpointing = True
        self.autocast_dtype: torch.dtype | None = torch.bfloat16 if device.type == "cuda" else None

    # ---------------------------------------------------------------- back-end protocol

    @property
    def vocab_size(self) -> int:
        return self.cfg.n_vocab

    @property
    def max_len(self) -> int:
        return self.cfg.n_ctx_train

    def target_weights(self, targets: list[str]) -> dict[str, tuple[int, int]]:
        """GGUF names and [out, in] shapes of the linear weights the targets select."""
        out: dict[str, tuple[int, int]] = {}
        for t in targets:
            if t not in TARGETS:
                raise ValueError(f"unknown target module {t!r}; known: {sorted(TARGETS)}")
            for i in [0] if t == "output" else range(self.cfg.n_layer):
                name = TARGETS[t].format(i=i)
                if name in self.w and len(self.w[name].shape) == 2:
                    shape = self.w[name].shape
                    out[name] = (int(shape[0]), int(shape[1]))
        return out

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
        """Applies full weight deltas (GGUF layout) under the frozen base: the serving adapter. They are
        kept beside the packed weights (added in each linear), so a quantized base stays quantized."""
        for name, d in deltas.items():
            if name not in self.w:
                raise GGUFError(f"serving adapter changes {name!r}, which the base lacks")
            prev = self.delta.get(name)
            d = d.to(self.device, torch.float32)
            self.delta[name] = d if prev is None else prev + d

    def base_bytes(self) -> int:
        """Device bytes the base occupies (packed as in the file)."""
        return sum(w.nbytes() for w in self.w.values())

    # ---------------------------------------------------------------- forward

    def logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens [B, T] (right-padded; causal attention makes the padding harmless) -> [B, T, V]."""
        cfg = self.cfg
        autocast = self.autocast_dtype is not None
        with torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype or torch.bfloat16, enabled=autocast):
            h = self.w["token_embd.weight"].rows(tokens)
            cos, sin = rope_tables(cfg.head_dim, cfg.rope_base, cfg.rope_freq_scale, tokens.shape[1], self.device, self.freq_factors)
            for i in range(cfg.n_layer):
                if self.checkpointing and torch.is_grad_enabled():
                    h = checkpoint(self._block, i, h, cos, sin, use_reentrant=False)
                else:
                    h = self._block(i, h, cos, sin)
            h = rms_norm(h.float(), self.w["output_norm.weight"].full(), cfg.rms_eps)
            return self._linear("token_embd.weight" if self.tied else "output.weight", h).float()

    def _block(self, i: int, h: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        cfg, b = self.cfg, f"blk.{i}."
        x = rms_norm(h.float(), self.w[b + "attn_norm.weight"].full(), cfg.rms_eps)
        h = h + self._attention(i, x, cos, sin)
        post = "post_attention_norm.weight" if cfg.arch == "gpt-oss" else "ffn_norm.weight"
        x = rms_norm(h.float(), self.w[b + post].full(), cfg.rms_eps)
        return h + (self._moe(i, x) if cfg.n_expert else self._ffn(i, x))

    def _attention(self, i: int, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        cfg, b = self.cfg, f"blk.{i}."
        bsz, n, _ = x.shape
        q = self._linear(b + "attn_q.weight", x).view(bsz, n, cfg.n_head, cfg.head_dim)
        k = self._linear(b + "attn_k.weight", x).view(bsz, n, cfg.n_head_kv, cfg.head_dim)
        v = self._linear(b + "attn_v.weight", x).view(bsz, n, cfg.n_head_kv, cfg.head_dim)
        if cfg.qk_norm:
            q = rms_norm(q, self.w[b + "attn_q_norm.weight"].full(), cfg.rms_eps)
            k = rms_norm(k, self.w[b + "attn_k_norm.weight"].full(), cfg.rms_eps)
        q, k = apply_rope(q, cos, sin, cfg.rope_neox), apply_rope(k, cos, sin, cfg.rope_neox)
        group = cfg.n_head // cfg.n_head_kv
        k = k.repeat_interleave(group, dim=2)
        v = v.repeat_interleave(group, dim=2)
        att = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(cfg.head_dim)
        pos = torch.arange(n, device=self.device)
        allowed = pos[None, :] <= pos[:, None]
        if cfg.is_swa(i):
            allowed = allowed & (pos[:, None] - pos[None, :] < cfg.sliding_window)
        att = att.masked_fill(~allowed, float("-inf"))
        if cfg.sinks:
            # one extra logit per head that takes part in the softmax and is then dropped
            sink = self.w[b + "attn_sinks.weight"].full().view(1, cfg.n_head, 1, 1).expand(bsz, cfg.n_head, n, 1)
            att = torch.cat([att, sink], -1).softmax(-1)[..., :-1]
        else:
            att = att.softmax(-1)
        o = torch.einsum("bhqk,bkhd->bqhd", att, v).reshape(bsz, n, cfg.n_head * cfg.head_dim)
        return self._linear(b + "attn_output.weight", o)

    def _ffn(self, i: int, x: torch.Tensor) -> torch.Tensor:
        b = f"blk.{i}."
        gate = self._linear(b + "ffn_gate.weight", x)
        up = self._linear(b + "ffn_up.weight", x)
        return self._linear(b + "ffn_down.weight", F.silu(gate) * up)

    def _moe(self, i: int, x: torch.Tensor) -> torch.Tensor:
        """Router top-k, then each chosen expert on its own tokens: one expert dequantized at a time."""
        cfg, b = self.cfg, f"blk.{i}."
        flat = x.reshape(-1, cfg.n_embd)
        logits = self._linear(b + "ffn_gate_inp.weight", flat)
        if cfg.gating == "softmax_weight":
            top, chosen = logits.topk(cfg.n_expert_used, -1)
            weights = top.softmax(-1)
        else:
            probs = logits.softmax(-1)
            weights, chosen = probs.topk(cfg.n_expert_used, -1)
            weights = weights / weights.sum(-1, keepdim=True).clamp(min=6.103515625e-5)
        if cfg.expert_weights_scale not in (0.0, 1.0):
            weights = weights * cfg.expert_weights_scale
        out = torch.zeros_like(flat)
        for e in torch.unique(chosen).tolist():
            rows, slot = (chosen == e).nonzero(as_tuple=True)
            xe = flat[rows]
            gate = self._expert(b + "ffn_gate_exps", e, xe)
            up = self._expert(b + "ffn_up_exps", e, xe)
            if cfg.arch == "gpt-oss":
                g = gate.clamp(max=7.0)
                act = g * torch.sigmoid(1.702 * g) * (up.clamp(-7.0, 7.0) + 1)
            else:
                act = F.silu(gate) * up
            ye = self._expert(b + "ffn_down_exps", e, act)
            out = out.index_add(0, rows, ye * weights[rows, slot, None])
        return out.view_as(x)

    def _expert(self, base: str, e: int, x: torch.Tensor) -> torch.Tensor:
        y = linear(x, self.w[base + ".weight"].slice(e), self.cpu_rounding)
        bias = self.bias.get(base + ".weight")
        return y + bias[e] if bias is not None else y

    def _linear(self, name: str, x: torch.Tensor) -> torch.Tensor:
        y = linear(x, self.w[name], self.cpu_rounding)
        bias = self.bias.get(name)
        if bias is not None:
            y = y + bias
        delta = self.delta.get(name)
        if delta is not None:
            y = y + x.to(delta.dtype) @ delta.T
        pair: LoraPair | None = self.lora.pairs.get(name) if self.lora_enabled else None
        if pair is not None:
            y = y + self.lora.scale * ((x @ pair.a.T) @ pair.b.T)
        return y
