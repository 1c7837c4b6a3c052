"""DiT building blocks: self-attention, the adaLN-zero block with composed cross-attention, the final layer."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def check_widths(hidden_size: int, heads: int) -> None:
    """``ValueError`` unless ``hidden_size`` splits into ``heads`` and is even (sinusoidal position features)."""
    if hidden_size % heads:
        raise ValueError(f"hidden_size={hidden_size} is not a multiple of heads={heads}")
    if hidden_size % 2:
        raise ValueError(f"hidden_size={hidden_size} must be even (sinusoidal position features)")


def zero_linear(in_size: int, out_size: int) -> nn.Sequential:
    """``SiLU -> Linear`` with the linear layer zero-initialised: adaLN-zero's modulation."""
    layer = nn.Linear(in_size, out_size)
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return nn.Sequential(nn.SiLU(), layer)


def modulate(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    """adaLN: ``x * (1 + scale) + shift`` with per-sample ``shift``/``scale`` ``(B, 1, hidden)``."""
    return x * (1 + scale) + shift


class SelfAttention(nn.Module):
    """Multi-head self-attention over all spacetime tokens (``scaled_dot_product_attention``)."""

    def __init__(self, hidden_size: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size)
        self.proj = nn.Linear(hidden_size, hidden_size)

    def forward(self, x: Tensor, keep: Tensor | None = None) -> Tensor:
        """``keep`` ``(B, N)``, when given, marks the tokens that may be attended to (padding is not)."""
        b, n, width = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)
        mask = None if keep is None else keep.to(torch.bool)[:, None, None, :]
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.proj(attended.transpose(1, 2).reshape(b, n, width))


class DiTBlock(nn.Module):
    """One DiT block: adaLN-zero self-attention, cross-attention to the text, adaLN-zero MLP.

    ``x = x + g1 * attn(modulate(norm(x)))``; ``x = x + cross(norm(x), text)``;
    ``x = x + g2 * mlp(modulate(norm(x)))``, where shifts, scales and gates come from the
    conditioning vector through a zero-initialised linear layer (so each block starts as
    the identity on its adaLN branches). With ``shared_modulation`` (adaLN-single, as in
    PixArt-alpha) the denoiser projects the conditioning vector once for all blocks and
    each block adds its own learned offset, zero at first. ``cross_attention`` is a ``cross_modal_attention``
    particle, called through its public forward.
    """

    def __init__(
        self,
        hidden_size: int,
        heads: int,
        mlp_ratio: float,
        cross_attention: nn.Module,
        condition_size: int,
        shared_modulation: bool = False,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.attn = SelfAttention(hidden_size, heads)
        self.norm2 = nn.LayerNorm(hidden_size, eps=1e-6)
        self.cross_attention = cross_attention
        self.norm3 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        inner = int(hidden_size * mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(hidden_size, inner), nn.GELU(approximate="tanh"), nn.Linear(inner, hidden_size)
        )
        self.modulation: nn.Module | None = None
        self.modulation_offset: nn.Parameter | None = None
        if shared_modulation:  # adaLN-single (PixArt-alpha): a shared projection plus a learned offset per block
            self.modulation_offset = nn.Parameter(torch.zeros(6 * hidden_size))
        else:
            self.modulation = zero_linear(condition_size, 6 * hidden_size)

    def forward(self, x: Tensor, condition: Tensor, context: Tensor, mask: Tensor | None) -> Tensor:
        """``condition`` is the conditioning vector ``(B, C)``, or with shared modulation its projection ``(B, 6H)``."""
        if self.modulation is not None:
            condition = self.modulation(condition)
        elif self.modulation_offset is not None:
            condition = condition + self.modulation_offset
        shift1, scale1, gate1, shift2, scale2, gate2 = condition.unsqueeze(1).chunk(6, dim=-1)
        x = x + gate1 * self.attn(modulate(self.norm1(x), shift1, scale1))
        cross: Any = self.cross_attention
        x = x + cross(query=self.norm2(x), context=context, mask=mask)["tokens"]
        return x + gate2 * self.mlp(modulate(self.norm3(x), shift2, scale2))


class FinalLayer(nn.Module):
    """adaLN (shift, scale) then a linear layer to patch features; both zero-initialised, as in DiT."""

    def __init__(self, hidden_size: int, out_size: int, condition_size: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.modulation = zero_linear(condition_size, 2 * hidden_size)
        self.linear = nn.Linear(hidden_size, out_size)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, x: Tensor, condition: Tensor) -> Tensor:
        shift, scale = self.modulation(condition).unsqueeze(1).chunk(2, dim=-1)
        return self.linear(modulate(self.norm(x), shift, scale))
