"""``lstm-text-encoder``: an LSTM over pre-embedded text features."""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field
from torch import nn

from sora_core.config import ParticleConfig
from sora_core.interfaces import TextEncoder
from sora_core.ports import PortSpec
from sora_seed.spaces import TEXT_LSTM


class LSTMTextEncoderConfig(ParticleConfig):
    """Sizes of the LSTM text encoder."""

    input_size: int = Field(512, gt=0, description="features per input token (E)")
    hidden_size: int = Field(256, gt=0, description="features per output embedding (D)")
    num_layers: int = Field(1, gt=0, le=64, description="stacked LSTM layers")


class LSTMTextEncoder(TextEncoder):
    """A batch-first LSTM over token embeddings ``(B, L, E)``, giving embeddings ``(B, L, D)``.

    ``mask`` marks valid tokens and is expected right-padded (valid tokens first): the LSTM
    reads left to right, so padding after a token never changes that token's state.
    Embeddings at masked positions are zeroed, and ``pooled`` is the **masked mean** of the
    valid embeddings (zeros for a sequence without valid tokens).
    """

    Config = LSTMTextEncoderConfig
    config: LSTMTextEncoderConfig
    description = "LSTM text encoder over token embeddings (the seed design's, batch-first)"

    def __init__(self, config: LSTMTextEncoderConfig | dict[str, Any] | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.lstm = nn.LSTM(
            self.config.input_size, self.config.hidden_size, num_layers=self.config.num_layers, batch_first=True
        )

    def input_ports(self) -> dict[str, PortSpec]:
        return {
            "token_embeddings": PortSpec("float32", f"B L E={self.config.input_size}", description="text features"),
            "mask": PortSpec("bool", "B L", optional=True, description="valid tokens, right-padded"),
        }

    def output_ports(self) -> dict[str, PortSpec]:
        d = self.config.hidden_size
        return {
            "embeddings": PortSpec("float32", f"B L D={d}", space=TEXT_LSTM, description="zero where masked"),
            "mask": PortSpec("bool", "B L", description="valid tokens (all when no mask was given)"),
            "pooled": PortSpec("float32", f"B D={d}", space=TEXT_LSTM, description="masked mean of embeddings"),
        }

    def forward(self, token_embeddings: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        if mask is None:
            mask = torch.ones(token_embeddings.shape[:2], dtype=torch.bool, device=token_embeddings.device)
        hidden, _ = self.lstm(token_embeddings)
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        embeddings = hidden * weights
        pooled = embeddings.sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
        return {"embeddings": embeddings, "mask": mask, "pooled": pooled}
