"""The trainer's GGUF back-end under its first name (it read only llama models then): the forward for
every supported architecture now lives in decoder.py and arch.py; this module keeps the old names."""

from __future__ import annotations

import torch

from .arch import ModelConfig as LlamaConfig
from .arch import config_from_gguf, expected_shapes
from .decoder import TARGETS, GGUFModel
from .gguf import GGUFFile, read_gguf
from .layers import apply_rope, rms_norm
from .layers import rope_tables as _rope_tables

TinyLlama = GGUFModel

__all__ = ["TARGETS", "LlamaConfig", "TinyLlama", "apply_rope", "config_from_gguf", "expected_shapes", "load_tiny",
           "rms_norm", "rope_tables"]


def rope_tables(cfg: LlamaConfig, n_pos: int, device: torch.device, freq_factors: torch.Tensor | None):
    return _rope_tables(cfg.head_dim, cfg.rope_base, cfg.rope_freq_scale, n_pos, device, freq_factors)


def load_tiny(path: str, device: torch.device) -> tuple[GGUFModel, GGUFFile]:
    g = read_gguf(path)
    return GGUFModel(g, device), g
