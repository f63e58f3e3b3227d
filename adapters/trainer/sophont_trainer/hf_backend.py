"""The transformers back-end, for real llama-family models on a GPU host.

Imported only when a recipe asks for `"backend": "hf"`: transformers exists on GPU hosts, not in CI.
LoRA is injected with forward hooks on the frozen nn.Linear modules rather than through peft, so the
math (y = W x + alpha/r * B A x), the initialisation and the training loop are exactly those of the
tiny back-end and of llama.cpp's build_lora_mm; peft is therefore not required.

The one layout difference: llama.cpp's converter permutes the rows of q_proj and k_proj (HF rotates
the two halves of each head, llama.cpp rotates adjacent pairs; see convert_hf_to_gguf.py's
LlamaModel.permute). A LoRA's rows live in B, so on export B of attn_q/attn_k gets the same
permutation, A is unchanged -- what convert_lora_to_gguf.py does too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from .data import InputError
from .lora import LoraPair, LoraSet, LoraSwitch

# recipe target -> module path under model.model.layers[i] (None: top level)
HF_MODULES: dict[str, str] = {
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
SUPPORTED = ("llama", "mistral")  # model_types llama.cpp converts to general.architecture "llama"


def permute_rows(w: np.ndarray, n_head: int, n_head_kv: int | None = None) -> np.ndarray:
    """HF -> GGUF row order of Q/K (and of a LoRA B for them), as llama.cpp's converter does."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def unpermute_rows(w: np.ndarray, n_head: int, n_head_kv: int | None = None) -> np.ndarray:
    """GGUF -> HF row order: the inverse of permute_rows."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def export_gguf_pairs(
    lora: LoraSet, n_head: int, n_head_kv: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, p in lora.pairs.items():
        a = p.a.detach().float().cpu().numpy()
        b = p.b.detach().float().cpu().numpy()
        if ".attn_q." in name:
            b = permute_rows(b, n_head, n_head)
        elif ".attn_k." in name:
            b = permute_rows(b, n_head, n_head_kv)
        out[name] = (a, np.ascontiguousarray(b))
    return out


class HFLlama(LoraSwitch):
    architecture = "llama"

    def __init__(self, model_dir: Path, device: torch.device) -> None:
        try:
            from transformers import AutoModelForCausalLM
        except ImportError as e:
            raise InputError("the 'hf' backend needs transformers on this host (pip install transformers)") from e
        if not Path(model_dir).is_dir():
            raise InputError(f"hf_model {str(model_dir)!r} is not a directory")
        dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
        self.model: Any = AutoModelForCausalLM.from_pretrained(str(model_dir), torch_dtype=dtype).to(device)
        cfg = self.model.config
        if cfg.model_type not in SUPPORTED:
            raise InputError(f"hf backend: model_type {cfg.model_type!r} is not one of {SUPPORTED}")
        self.model.eval()  # no dropout: determinism, and LoRA is the only thing that trains
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.device = device
        self.n_head = int(cfg.num_attention_heads)
        self.n_head_kv = int(getattr(cfg, "num_key_value_heads", None) or self.n_head)
        self.max_len = int(getattr(cfg, "max_position_embeddings", 0)) or None
        self.tied = bool(getattr(cfg, "tie_word_embeddings", False))
        self.lora = LoraSet(rank=1, alpha=1.0)
        self.lora_enabled = True
        self._hooks: list[Any] = []

    @property
    def vocab_size(self) -> int:
        return int(self.model.config.vocab_size)

    def _modules(self) -> dict[str, torch.nn.Module]:
        """GGUF tensor name -> the nn.Linear holding that weight."""
        out: dict[str, torch.nn.Module] = {}
        for i, layer in enumerate(self.model.model.layers):
            for target, path in HF_MODULES.items():
                mod: Any = layer
                for part in path.split("."):
                    mod = getattr(mod, part)
                out[f"blk.{i}.{target}.weight"] = mod
        if not self.tied:
            out["output.weight"] = self.model.lm_head
        return out

    def target_weights(self, targets: list[str]) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        for name, mod in self._modules().items():
            target = "output" if name == "output.weight" else name.split(".")[2]
            if target in targets:
                w = mod.weight
                out[name] = (int(w.shape[0]), int(w.shape[1]))
        return out

    def base_shapes(self) -> dict[str, tuple[int, ...]]:
        return {n: tuple(m.weight.shape) for n, m in self._modules().items()}

    def attach_lora(self, lora: LoraSet) -> None:
        for h in self._hooks:
            h.remove()
        self.lora = lora.to(self.device)
        mods = self._modules()
        self._hooks = [mods[name].register_forward_hook(self._hook(name)) for name in lora.pairs]

    def add_to_base(self, deltas: dict[str, torch.Tensor]) -> None:
        """Folds full weight deltas (GGUF layout) into the frozen weights, in this model's row order.
        In bf16 (CUDA) the sum is rounded to bf16, about 3 significant digits of the served delta."""
        mods = self._modules()
        for name, d in deltas.items():
            x = d.float().cpu().numpy()
            if ".attn_q." in name:
                x = unpermute_rows(x, self.n_head, self.n_head)
            elif ".attn_k." in name:
                x = unpermute_rows(x, self.n_head, self.n_head_kv)
            w = mods[name].weight
            w.data += torch.from_numpy(np.ascontiguousarray(x)).to(w.device, w.dtype)

    def _hook(self, name: str) -> Any:
        def add_lora(_mod: torch.nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> torch.Tensor:
            if not self.lora_enabled:
                return output
            p = self.lora.pairs[name]
            x = inputs[0].float()  # LoRA runs in float32 even when the base runs in bf16
            return output + (self.lora.scale * ((x @ p.a.T) @ p.b.T)).to(output.dtype)

        return add_lora


    def logits(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=tokens).logits

    def export_pairs(self, lora: LoraSet) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        return export_gguf_pairs(lora, self.n_head, self.n_head_kv)

    def import_pairs(self, pairs: dict[str, tuple[np.ndarray, np.ndarray]], alpha: float) -> LoraSet:
        """GGUF-oriented pairs (e.g. a merged adapter) back into this model's row order."""
        out: dict[str, LoraPair] = {}
        for name, (a, b) in pairs.items():
            if ".attn_q." in name:
                b = unpermute_rows(b, self.n_head, self.n_head)
            elif ".attn_k." in name:
                b = unpermute_rows(b, self.n_head, self.n_head_kv)
            out[name] = LoraPair(torch.from_numpy(np.ascontiguousarray(a)), torch.from_numpy(np.ascontiguousarray(b)))
        rank = max(p.a.shape[0] for p in out.values())
        return LoraSet(rank, alpha, out)
