"""``causal-vae-encoder`` (kind ``video_encoder``): video ``(B, 3, T, H, W)`` to latent ``(B, c, t, h, w)``."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sora_core.interfaces import VideoEncoder
from sora_core.ports import PortSpec
from sora_vae.config import CausalVAEEncoderConfig
from sora_vae.layers import CausalConv3d, Downsample, FrameGroupNorm, ResBlock
from sora_vae.posterior import LOGVAR_RANGE, sample_latent
from sora_vae.sizes import check_video


class CausalVAEEncoder(VideoEncoder):
    """The encoder half of a causal 3D-convolution VAE.

    ``T = 1 + k * temporal_compression`` frames give ``t = 1 + k`` latent frames and H, W shrink by
    ``spatial_compression``. Every layer is causal in time and normalises each frame on its own, so
    latent frame ``j`` depends only on frames ``<= j * temporal_compression``, and the first frame is
    encoded alone: a single image ``(B, 3, 1, H, W)`` gives the same first latent frame as any video
    starting with it. Outputs the posterior mean as ``latent`` (a sample when ``sample_posterior``)
    and its log-variance as ``logvar``.
    """

    Config = CausalVAEEncoderConfig
    config: CausalVAEEncoderConfig
    description = "causal 3D-conv video VAE encoder: video (B, 3, T, H, W) -> latent (B, c, t, h, w), first frame alone"
    default_weights = "weights/causal-vae-encoder"

    def __init__(self, config: CausalVAEEncoderConfig | dict[str, Any] | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        channels = self.config.level_channels()
        self.conv_in = CausalConv3d(3, channels[0])
        self.levels = nn.ModuleList()
        previous = channels[0]
        steps = [*self.config.downsamplings(), None]
        for width, step in zip(channels, steps, strict=True):
            level = nn.Module()
            level.blocks = nn.Sequential(
                *(ResBlock(previous if i == 0 else width, width) for i in range(self.config.num_res_blocks))
            )
            level.down = Downsample(width, temporal=step[0], spatial=step[1]) if step else nn.Identity()
            self.levels.append(level)
            previous = width
        self.mid = ResBlock(previous, previous)
        self.norm_out = FrameGroupNorm(previous)
        self.conv_out = CausalConv3d(previous, 2 * self.config.latent_channels)

    @property
    def stochastic(self) -> bool:
        """Whether ``latent`` is a random sample (``sample_posterior``): the executor then seeds this node."""
        return self.config.sample_posterior

    def input_ports(self) -> dict[str, PortSpec]:
        return {
            "video": PortSpec(
                "float32",
                "B C=3 T H W",
                description=f"RGB video in [-1, 1]; T = 1 + {self.config.temporal_compression}k frames, "
                f"H and W multiples of {self.config.spatial_compression}",
            )
        }

    def output_ports(self) -> dict[str, PortSpec]:
        c = self.config.latent_channels
        what = "a sample of the posterior" if self.config.sample_posterior else "the posterior mean"
        return {
            "latent": PortSpec(
                "float32",
                f"B c={c} t h w",
                space=self.config.latent_space,
                description=f"{what}; t = 1 + (T - 1) / {self.config.temporal_compression}, "
                f"h = H / {self.config.spatial_compression}, w = W / {self.config.spatial_compression}",
            ),
            "logvar": PortSpec(
                "float32",
                f"B c={c} t h w",
                optional=True,
                description="log-variance of the diagonal Gaussian posterior (to sample it in training)",
            ),
        }

    @classmethod
    def example_inputs(
        cls, config: CausalVAEEncoderConfig, batch: int, generator: torch.Generator
    ) -> dict[str, Tensor]:
        """A clip of ``1 + temporal_compression`` frames of 16x16 pixels, uniform in [-1, 1]."""
        frames = 1 + config.temporal_compression
        return {"video": torch.rand((batch, 3, frames, 16, 16), generator=generator) * 2 - 1}

    def moments(self, video: Tensor) -> tuple[Tensor, Tensor]:
        """The posterior's mean and clamped log-variance, each ``(B, c, t, h, w)``, normalised by the config's
        ``latent_shift`` and ``latent_scale``."""
        check_video(self.registered_name or "sora-vae:causal-vae-encoder", video, self.config)
        x = self.conv_in(video.to(self.conv_in.weight.dtype))
        for level in self.levels:
            x = level.down(level.blocks(x))
        x = self.conv_out(F.silu(self.norm_out(self.mid(x))))
        mean, logvar = x.chunk(2, dim=1)
        logvar = logvar.clamp(*LOGVAR_RANGE) + self.config.log_scale(logvar)
        return self.config.normalise(mean).contiguous(), logvar.contiguous()

    def forward(self, video: Tensor) -> dict[str, Tensor]:
        mean, logvar = self.moments(video)
        latent = sample_latent(mean, logvar) if self.config.sample_posterior else mean
        return {"latent": latent, "logvar": logvar}
