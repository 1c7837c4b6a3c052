"""Cross-modal attentions of spacetime tokens over text tokens, interchangeable by name.

All three share their ports (``query (B, N, Q)``, ``context (B, L, C)``, optional ``mask (B, L)``
-> ``tokens (B, N, Q)``: the output has the query's width) and their config fields
(``query_size``, ``context_size``, ``heads``), so the denoiser creates whichever one its
config names with the same arguments:

- ``multihead-cross-attention``: scaled-dot-product attention with q/k/v/out projections;
- ``gated-cross-attention``: the same, times ``tanh(gate)`` with ``gate`` starting at 0
  (Flamingo), so a block using it starts as if it had no cross-attention;
- ``linear-cross-attention``: kernelised linear attention (``elu + 1`` features), linear in
  the number of text tokens.

Context tokens where ``mask`` is false get exactly zero weight; a query whose context is
entirely masked gets zeros, never NaN.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import Tensor, nn

from sora_core.config import ParticleConfig
from sora_core.interfaces import CrossModalAttention
from sora_core.ports import PortSpec


class CrossAttentionConfig(ParticleConfig):
    """Widths of the query and context tokens, and the number of heads."""

    query_size: int = Field(256, gt=0, description="features per query token (Q); also the output width")
    context_size: int = Field(256, gt=0, description="features per context token (C)")
    heads: int = Field(4, gt=0, le=256, description="attention heads; query_size must be a multiple of it")

    @model_validator(mode="after")
    def _heads_divide(self) -> CrossAttentionConfig:
        if self.query_size % self.heads:
            raise ValueError(f"query_size={self.query_size} is not a multiple of heads={self.heads}")
        return self


class GatedCrossAttentionConfig(CrossAttentionConfig):
    """The multi-head attention's fields plus the gate's starting value."""

    gate_init: float = Field(0.0, description="initial gate before tanh; 0 closes the branch at the start")


class _ProjectedCrossAttention(CrossModalAttention):
    """q/k/v/out projections and the shared ports; subclasses define :meth:`attend`."""

    config: CrossAttentionConfig
    output_description: ClassVar[str] = "attended context, in the query's width"

    def __init__(self, config: CrossAttentionConfig | dict[str, Any] | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        q, c = self.config.query_size, self.config.context_size
        self.to_q = nn.Linear(q, q)
        self.to_k = nn.Linear(c, q)
        self.to_v = nn.Linear(c, q)
        self.to_out = nn.Linear(q, q)

    def input_ports(self) -> dict[str, PortSpec]:
        return {
            "query": PortSpec("float32", f"B N Q={self.config.query_size}", description="query tokens"),
            "context": PortSpec("float32", f"B L C={self.config.context_size}", description="context tokens"),
            "mask": PortSpec("bool", "B L", optional=True, description="context tokens that may be attended"),
        }

    def output_ports(self) -> dict[str, PortSpec]:
        return {"tokens": PortSpec("float32", f"B N Q={self.config.query_size}", description=self.output_description)}

    def _heads(self, x: Tensor) -> Tensor:
        b, n, _ = x.shape
        return x.reshape(b, n, self.config.heads, -1).transpose(1, 2)  # (B, heads, n, d)

    def attend(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None) -> Tensor:
        """Query heads ``(B, h, N, d)`` over key/value heads ``(B, h, L, d)``; ``mask`` ``(B, L)``, no row all false."""
        raise NotImplementedError

    def forward(self, query: Tensor, context: Tensor, mask: Tensor | None = None) -> dict[str, Tensor]:
        q, k, v = self._heads(self.to_q(query)), self._heads(self.to_k(context)), self._heads(self.to_v(context))
        valid: Tensor | None = None
        if mask is not None:
            mask = mask.to(torch.bool)
            valid = mask.any(dim=-1)  # (B,): rows with something to attend
            mask = mask | ~valid.unsqueeze(-1)  # all-masked rows attend everywhere, then are zeroed below
        attended = self.attend(q, k, v, mask)
        b, _, n, _ = attended.shape
        tokens = self.to_out(attended.transpose(1, 2).reshape(b, n, self.config.query_size))
        if valid is not None:
            tokens = tokens * valid.to(tokens.dtype).view(b, 1, 1)
        return {"tokens": tokens}


class MultiheadCrossAttention(_ProjectedCrossAttention):
    """Multi-head scaled-dot-product attention of query tokens over context tokens.

    ``tokens = W_o softmax(W_q q (W_k k)^T / sqrt(d)) W_v k`` per head, through
    ``torch.nn.functional.scaled_dot_product_attention``.
    """

    Config = CrossAttentionConfig
    description = "multi-head scaled-dot-product cross-attention (q/k/v/out projections), query-width output"

    def attend(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None) -> Tensor:
        attn_mask = None if mask is None else mask[:, None, None, :]
        return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)


class GatedCrossAttention(MultiheadCrossAttention):
    """Multi-head cross-attention scaled by ``tanh(gate)``, a learned scalar starting at ``gate_init``.

    With the default ``gate_init = 0`` the output is zero at first, so a residual block
    using it starts as the block without cross-attention (Flamingo's gated cross-attention);
    the gate's gradient is not zero, so training opens it.
    """

    Config = GatedCrossAttentionConfig
    config: GatedCrossAttentionConfig
    description = "tanh-gated multi-head cross-attention (Flamingo style), closed at initialisation"
    output_description = "attended context times tanh(gate), in the query's width"

    def __init__(self, config: GatedCrossAttentionConfig | dict[str, Any] | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.gate = nn.Parameter(torch.full((1,), float(self.config.gate_init)))

    def forward(self, query: Tensor, context: Tensor, mask: Tensor | None = None) -> dict[str, Tensor]:
        tokens = super().forward(query, context, mask)["tokens"]
        return {"tokens": torch.tanh(self.gate) * tokens}


class LinearCrossAttention(_ProjectedCrossAttention):
    """Kernelised linear attention: ``phi(q) (phi(k)^T v) / (phi(q) sum phi(k))`` with ``phi = elu + 1``.

    Costs ``O((N + L) d^2)`` instead of ``O(N L d)``; masked context tokens contribute nothing.
    """

    Config = CrossAttentionConfig
    description = "kernelised linear cross-attention (elu+1 features), linear in the context length"

    def attend(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None) -> Tensor:
        q, k = F.elu(q) + 1.0, F.elu(k) + 1.0
        if mask is not None:
            k = k * mask[:, None, :, None].to(k.dtype)
        summary = k.transpose(-2, -1) @ v  # (B, h, d, d)
        normaliser = q @ k.sum(dim=-2, keepdim=True).transpose(-2, -1)  # (B, h, N, 1)
        return (q @ summary) / normaliser.clamp(min=1e-6)
