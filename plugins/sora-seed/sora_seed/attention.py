"""``additive-attention``: Bahdanau-style cross-modal attention, ``v^T tanh(W_q q + W_k k)``."""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field
from torch import nn

from sora_core.config import ParticleConfig
from sora_core.interfaces import CrossModalAttention
from sora_core.ports import PortSpec


class AdditiveAttentionConfig(ParticleConfig):
    """Sizes of the additive attention."""

    query_size: int = Field(256, gt=0, description="features per query step (Q)")
    context_size: int = Field(256, gt=0, description="features per context token (C)")
    attention_size: int = Field(256, gt=0, description="width of the scoring layer")


class AdditiveAttention(CrossModalAttention):
    """Each query step ``(B, T, Q)`` attends over context tokens ``(B, L, C)``.

    The score of query step ``t`` for token ``l`` is ``v^T tanh(W_q q_t + W_k k_l)``; the
    softmax of the scores over ``l`` weighs the context tokens into ``tokens`` ``(B, T, C)``.
    Tokens where ``mask`` is false get weight exactly zero; a row whose tokens are all
    masked gets all-zero weights and a zero output, never NaN.
    """

    Config = AdditiveAttentionConfig
    config: AdditiveAttentionConfig
    description = "additive (Bahdanau) attention of query steps over context tokens"

    def __init__(self, config: AdditiveAttentionConfig | dict[str, Any] | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        size = self.config.attention_size
        self.query_proj = nn.Linear(self.config.query_size, size, bias=False)
        self.context_proj = nn.Linear(self.config.context_size, size)
        self.score = nn.Linear(size, 1, bias=False)

    def input_ports(self) -> dict[str, PortSpec]:
        return {
            "query": PortSpec("float32", f"B T Q={self.config.query_size}", description="query steps"),
            "context": PortSpec("float32", f"B L C={self.config.context_size}", description="context tokens"),
            "mask": PortSpec("bool", "B L", optional=True, description="context tokens that may be attended"),
        }

    def output_ports(self) -> dict[str, PortSpec]:
        return {
            "tokens": PortSpec("float32", f"B T C={self.config.context_size}", description="attended context"),
            "weights": PortSpec("float32", "B T L", description="attention weights; rows sum to 1 or 0"),
        }

    def forward(
        self, query: torch.Tensor, context: torch.Tensor, mask: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        features = torch.tanh(self.query_proj(query).unsqueeze(2) + self.context_proj(context).unsqueeze(1))
        scores = self.score(features).squeeze(-1)  # (B, T, L)
        if mask is None:
            weights = scores.softmax(dim=-1)
        else:
            valid = mask.unsqueeze(1)  # (B, 1, L)
            scores = scores.masked_fill(~valid, float("-inf"))
            scores = scores.masked_fill(~valid.any(dim=-1, keepdim=True), 0.0)  # all-masked rows: no NaN
            weights = scores.softmax(dim=-1) * valid
        return {"tokens": weights @ context, "weights": weights}
