"""The small pieces of the forward that every architecture shares: RMSNorm and the two RoPE modes."""

from __future__ import annotations

import torch


def rms_norm(x: torch.Tensor, w: torch.Tensor, eps: float) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope_tables(
    head_dim: int, base: float, freq_scale: float, n_pos: int, device: torch.device, freq_factors: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin of shape [n_pos, head_dim/2]; theta_i = pos * base^(-2i/d) * freq_scale / ff_i."""
    inv = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64, device=device) / head_dim)
    if freq_factors is not None:
        inv = inv / freq_factors.to(device=device, dtype=torch.float64)
    pos = torch.arange(n_pos, dtype=torch.float64, device=device)
    theta = torch.outer(pos, inv) * freq_scale
    return theta.cos().float(), theta.sin().float()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, neox: bool = False) -> torch.Tensor:
    """x: [B, T, H, D]. Normal mode (llama.cpp's LLAMA_ROPE_TYPE_NORM) rotates adjacent pairs
    (x[2i], x[2i+1]); neox mode (qwen, gpt-oss) rotates (x[i], x[i + D/2])."""
    c = cos[None, :, None, :]
    s = sin[None, :, None, :]
    if neox:
        half = x.shape[-1] // 2
        x0, x1 = x[..., :half], x[..., half:]
        return torch.cat((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1)
    x0 = x[..., 0::2]
    x1 = x[..., 1::2]
    return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).flatten(-2)
