"""``lstm-video-decoder``: an LSTM over per-frame video features (kind ``video_feature_decoder``)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import Field
from torch import nn

from sora_core.config import ParticleConfig
from sora_core.interfaces import ModuleParticle
from sora_core.ports import PortSpec
from sora_seed.hooks import VIDEO_FEATURE_DECODER
from sora_seed.spaces import VIDEO_HIDDEN_LSTM


class LSTMVideoDecoderConfig(ParticleConfig):
    """Sizes of the LSTM video feature decoder."""

    input_size: int = Field(512, gt=0, description="features per frame (F)")
    hidden_size: int = Field(256, gt=0, description="hidden features per frame (H)")
    num_layers: int = Field(1, gt=0, le=64, description="stacked LSTM layers")


class LSTMVideoDecoder(ModuleParticle):
    """A batch-first LSTM from per-frame features ``(B, T, F)`` to hidden features ``(B, T, H)``.

    The seed design called it a "video decoder"; it reads video features, so it is of the
    kind ``video_feature_decoder`` that this plugin contributes. The seed built it with
    ``H = 512`` while its attention expected 256; here ``H`` is ``hidden_size`` (256 by
    default), and a mismatch is caught when a pipeline connects the ports.
    """

    kind: ClassVar[str] = VIDEO_FEATURE_DECODER.name
    Config = LSTMVideoDecoderConfig
    config: LSTMVideoDecoderConfig
    description = "LSTM over per-frame video features (the seed design's video decoder, batch-first)"

    def __init__(self, config: LSTMVideoDecoderConfig | dict[str, Any] | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.lstm = nn.LSTM(
            self.config.input_size, self.config.hidden_size, num_layers=self.config.num_layers, batch_first=True
        )

    def input_ports(self) -> dict[str, PortSpec]:
        return {"features": PortSpec("float32", f"B T F={self.config.input_size}", description="per-frame features")}

    def output_ports(self) -> dict[str, PortSpec]:
        return {"hidden": PortSpec("float32", f"B T H={self.config.hidden_size}", space=VIDEO_HIDDEN_LSTM)}

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        hidden, _ = self.lstm(features)
        return {"hidden": hidden}
