"""``causal-vae-decoder`` (kind ``video_decoder``): latent ``(B, c, t, h, w)`` to video ``(B, 3, T, H, W)``."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sora_core.interfaces import VideoDecoder
from sora_core.ports import PortSpec
from sora_vae.config import CausalVAEDecoderConfig
from sora_vae.layers import CausalConv3d, FrameGroupNorm, ResBlock, Upsample
from sora_vae.sizes import check_latent


class CausalVAEDecoder(VideoDecoder):
    """The decoder half of a causal 3D-convolution VAE; it inverts the encoder's layout exactly.

    ``t`` latent frames give ``T = 1 + (t - 1) * temporal_compression`` frames, ``h, w`` give
    ``h * spatial_compression, w * spatial_compression`` pixels; the first latent frame decodes to the
    first frame alone (a single image). Causal in time like the encoder: frame ``i`` depends only on
    latent frames up to ``ceil(i / temporal_compression)``. The output goes through ``tanh``.
    """

    Config = CausalVAEDecoderConfig
    config: CausalVAEDecoderConfig
    description = "causal 3D-conv video VAE decoder: latent (B, c, t, h, w) -> video (B, 3, T, H, W) in [-1, 1]"
    default_weights = "weights/causal-vae-decoder"

    def __init__(self, config: CausalVAEDecoderConfig | dict[str, Any] | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        channels = self.config.level_channels()
        steps = self.config.downsamplings()
        self.conv_in = CausalConv3d(self.config.latent_channels, channels[-1])
        self.mid = ResBlock(channels[-1], channels[-1])
        self.levels = nn.ModuleList()  # deepest first: the encoder's levels in reverse
        previous = channels[-1]
        for index in reversed(range(len(channels))):
            width = channels[index]
            level = nn.Module()
            level.blocks = nn.Sequential(
                *(ResBlock(previous if i == 0 else width, width) for i in range(self.config.num_res_blocks))
            )
            previous = width
            if index > 0:  # back to the finer level's size and width
                temporal, spatial = steps[index - 1]
                previous = channels[index - 1]
                level.up = Upsample(width, previous, temporal=temporal, spatial=spatial)
            else:
                level.up = nn.Identity()
            self.levels.append(level)
        self.norm_out = FrameGroupNorm(previous)
        self.conv_out = CausalConv3d(previous, 3)

    def input_ports(self) -> dict[str, PortSpec]:
        return {
            "latent": PortSpec(
                "float32",
                f"B c={self.config.latent_channels} t h w",
                space=self.config.latent_space,
                description="latents written by the causal VAE encoder of the same config",
            )
        }

    def output_ports(self) -> dict[str, PortSpec]:
        return {
            "video": PortSpec(
                "float32",
                "B C=3 T H W",
                description=f"RGB video in [-1, 1]; T = 1 + (t - 1) * {self.config.temporal_compression}, "
                f"H = h * {self.config.spatial_compression}, W = w * {self.config.spatial_compression}",
            )
        }

    @classmethod
    def example_inputs(
        cls, config: CausalVAEDecoderConfig, batch: int, generator: torch.Generator
    ) -> dict[str, Tensor]:
        """Two latent frames of 4x4 latent pixels, standard normal."""
        return {"latent": torch.randn((batch, config.latent_channels, 2, 4, 4), generator=generator)}

    def forward(self, latent: Tensor) -> dict[str, Tensor]:
        check_latent(self.registered_name or "sora-vae:causal-vae-decoder", latent, self.config)
        x = self.mid(self.conv_in(self.config.denormalise(latent.to(self.conv_in.weight.dtype))))
        for level in self.levels:
            x = level.up(level.blocks(x))
        return {"video": torch.tanh(self.conv_out(F.silu(self.norm_out(x))))}
