"""Sinusoidal embeddings of timesteps and of 3D patch positions (no learned tables: any size works)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def sinusoidal(values: Tensor, dim: int, max_period: float = 10_000.0) -> Tensor:
    """``(..., dim)`` embedding of ``values`` ``(...)``: cosines then sines of geometric frequencies."""
    half = dim // 2
    exponents = torch.arange(half, device=values.device, dtype=torch.float32) / max(half, 1)
    frequencies = torch.exp(-math.log(max_period) * exponents)
    angles = values.to(torch.float32).unsqueeze(-1) * frequencies
    embedding = torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)
    if dim % 2:
        embedding = torch.cat([embedding, torch.zeros_like(embedding[..., :1])], dim=-1)
    return embedding


def axis_sizes(dim: int) -> tuple[int, int, int]:
    """How ``dim`` features split between the time, height and width axes (each even)."""
    side = (dim // 6) * 2
    return dim - 2 * side, side, side


def position_embedding(positions: Tensor, dim: int) -> Tensor:
    """``(B, N, dim)`` fixed 3D embedding of patch positions ``(B, N, 3)``, one sinusoid block per axis.

    Factorised over (t, h, w) and computed from the positions, so it works for any number of
    frames, any resolution and any aspect ratio.
    """
    parts = [sinusoidal(positions[..., axis], size) for axis, size in enumerate(axis_sizes(dim))]
    return torch.cat(parts, dim=-1)


class TimestepEmbedding(nn.Module):
    """A rectified-flow time ``t`` in ``[0, 1]`` -> ``(B, hidden)``: sinusoid of ``1000 t``, then an MLP."""

    def __init__(self, hidden_size: int, frequency_size: int = 256) -> None:
        super().__init__()
        self.frequency_size = frequency_size
        self.mlp = nn.Sequential(nn.Linear(frequency_size, hidden_size), nn.SiLU(), nn.Linear(hidden_size, hidden_size))

    def forward(self, t: Tensor) -> Tensor:
        return self.mlp(sinusoidal(t * 1000.0, self.frequency_size).to(self.mlp[0].weight.dtype))
