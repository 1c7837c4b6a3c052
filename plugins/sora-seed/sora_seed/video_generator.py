"""``lstm-video-generator``: an LSTM with a linear head from a condition sequence to video features."""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field
from torch import nn

from sora_core.config import ParticleConfig
from sora_core.interfaces import VideoGenerator
from sora_core.ports import PortSpec
from sora_seed.spaces import VIDEO_FEATURES


class LSTMVideoGeneratorConfig(ParticleConfig):
    """Sizes of the LSTM video generator."""

    input_size: int = Field(256, gt=0, description="features per condition step (C)")
    hidden_size: int = Field(256, gt=0, description="LSTM hidden features")
    output_size: int = Field(512, gt=0, description="video features per frame (F)")
    num_layers: int = Field(1, gt=0, le=64, description="stacked LSTM layers")


class LSTMVideoGenerator(VideoGenerator):
    """A batch-first LSTM over a condition ``(B, T, C)`` and a linear head to video features ``(B, T, F)``.

    The seed design's "video" is one feature vector per frame, not pixels.
    """

    Config = LSTMVideoGeneratorConfig
    config: LSTMVideoGeneratorConfig
    description = "LSTM + linear head from a condition sequence to per-frame video features (the seed's generator)"

    def __init__(self, config: LSTMVideoGeneratorConfig | dict[str, Any] | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.lstm = nn.LSTM(
            self.config.input_size, self.config.hidden_size, num_layers=self.config.num_layers, batch_first=True
        )
        self.head = nn.Linear(self.config.hidden_size, self.config.output_size)

    def input_ports(self) -> dict[str, PortSpec]:
        return {"condition": PortSpec("float32", f"B T C={self.config.input_size}", description="one step per frame")}

    def output_ports(self) -> dict[str, PortSpec]:
        return {"video": PortSpec("float32", f"B T F={self.config.output_size}", space=VIDEO_FEATURES)}

    def forward(self, condition: torch.Tensor) -> dict[str, torch.Tensor]:
        hidden, _ = self.lstm(condition)
        return {"video": self.head(hidden)}
