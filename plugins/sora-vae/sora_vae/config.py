"""The causal VAE's configuration, shared by its encoder and decoder."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field, ValidationInfo, field_validator
from torch import Tensor

from sora_core.config import ParticleConfig
from sora_vae.spaces import (
    DEFAULT_LATENT_CHANNELS,
    DEFAULT_SPATIAL_COMPRESSION,
    DEFAULT_TEMPORAL_COMPRESSION,
    latent_space,
)


def _per_channel(values: tuple[float, ...], like: Tensor) -> Tensor:
    """``values`` as a tensor broadcasting over dimension 1 of ``like``."""
    shape = (1, len(values)) + (1,) * (like.dim() - 2)
    return torch.tensor(values, dtype=like.dtype, device=like.device).view(shape)


#: Channel multipliers used when ``channel_multipliers`` is not set: the first ``levels`` of these.
AUTO_MULTIPLIERS: tuple[int, ...] = (1, 2, 2, 4)

_LOG2 = {1: 0, 2: 1, 4: 2, 8: 3}


def level_count(temporal_compression: int, spatial_compression: int) -> int:
    """Resolution levels of the encoder (and decoder): one more than the number of 2x downsamplings."""
    return 1 + max(_LOG2[temporal_compression], _LOG2[spatial_compression])


class CausalVAEConfig(ParticleConfig):
    """Sizes of the causal VAE; the encoder and the decoder of one VAE must agree on every field here."""

    latent_channels: int = Field(DEFAULT_LATENT_CHANNELS, gt=0, le=1024, description="latent channels (c)")
    temporal_compression: Literal[1, 2, 4] = Field(
        DEFAULT_TEMPORAL_COMPRESSION,
        description="frames per latent frame after the first: T = 1 + temporal_compression * (t - 1)",
    )
    spatial_compression: Literal[2, 4, 8] = Field(
        DEFAULT_SPATIAL_COMPRESSION, description="pixels per latent pixel along H and along W"
    )
    base_channels: int = Field(32, gt=0, le=4096, description="feature channels at full resolution")
    channel_multipliers: tuple[int, ...] | None = Field(
        None,
        description=(
            "feature channels of each resolution level, as multiples of base_channels; one entry per level, "
            "1 + log2(max(temporal_compression, spatial_compression)) levels; null picks the first levels "
            f"of {list(AUTO_MULTIPLIERS)}"
        ),
    )
    num_res_blocks: int = Field(1, ge=1, le=8, description="residual blocks per resolution level")
    latent_shift: tuple[float, ...] | None = Field(
        None,
        description="per-channel mean of the raw latents, subtracted by the encoder and added back by the decoder "
        "(null: 0), so that the latents a denoiser sees are centred",
    )
    latent_scale: tuple[float, ...] | None = Field(
        None,
        description="per-channel factor (1 / std of the raw latents) the encoder multiplies by and the decoder "
        "divides by (null: 1), so that the latents a denoiser sees have unit variance",
    )

    @field_validator("latent_shift", "latent_scale")
    @classmethod
    def _one_value_per_channel(cls, value: tuple[float, ...] | None, info: ValidationInfo) -> tuple[float, ...] | None:
        if value is None:
            return value
        channels = info.data.get("latent_channels")
        if channels is not None and len(value) != channels:
            raise ValueError(f"needs one value per latent channel ({channels}), got {len(value)}")
        if info.field_name == "latent_scale" and any(not v > 0 for v in value):
            raise ValueError(f"every scale must be positive, got {list(value)}")
        return value

    @field_validator("channel_multipliers")
    @classmethod
    def _one_multiplier_per_level(cls, value: tuple[int, ...] | None, info: ValidationInfo) -> tuple[int, ...] | None:
        if value is None:
            return value
        if any(m <= 0 for m in value):
            raise ValueError(f"every multiplier must be positive, got {list(value)}")
        temporal, spatial = info.data.get("temporal_compression"), info.data.get("spatial_compression")
        if temporal is None or spatial is None:  # those fields failed already and are reported
            return value
        levels = level_count(temporal, spatial)
        if len(value) != levels:
            raise ValueError(
                f"needs {levels} entries (one per resolution level for temporal_compression={temporal}, "
                f"spatial_compression={spatial}), got {len(value)}; or null for {list(AUTO_MULTIPLIERS[:levels])}"
            )
        return value

    @property
    def levels(self) -> int:
        """Resolution levels: ``1 + log2`` of the larger compression factor."""
        return level_count(self.temporal_compression, self.spatial_compression)

    def level_channels(self) -> list[int]:
        """Feature channels at each resolution level, full resolution first."""
        multipliers = self.channel_multipliers or AUTO_MULTIPLIERS[: self.levels]
        return [self.base_channels * m for m in multipliers]

    def downsamplings(self) -> list[tuple[bool, bool]]:
        """For each step from level ``i`` to ``i + 1``: whether it halves time and whether it halves H and W.

        Time is halved at the first ``log2(temporal_compression)`` steps and space at the first
        ``log2(spatial_compression)``, so the expensive full-resolution levels see the fewest frames.
        """
        temporal, spatial = _LOG2[self.temporal_compression], _LOG2[self.spatial_compression]
        return [(i < temporal, i < spatial) for i in range(self.levels - 1)]

    @property
    def latent_space(self) -> str:
        """The space tag of this VAE's latents (see :func:`sora_vae.spaces.latent_space`)."""
        return latent_space(self.latent_channels, self.temporal_compression, self.spatial_compression)

    def normalise(self, raw: Tensor) -> Tensor:
        """Raw latents ``(B, c, ...)`` to the normalised latents the encoder writes (see ``latent_shift/scale``)."""
        if self.latent_shift is not None:
            raw = raw - _per_channel(self.latent_shift, raw)
        if self.latent_scale is not None:
            raw = raw * _per_channel(self.latent_scale, raw)
        return raw

    def denormalise(self, latent: Tensor) -> Tensor:
        """The inverse of :meth:`normalise`: what the decoder's layers read."""
        if self.latent_scale is not None:
            latent = latent / _per_channel(self.latent_scale, latent)
        if self.latent_shift is not None:
            latent = latent + _per_channel(self.latent_shift, latent)
        return latent

    def log_scale(self, like: Tensor) -> Tensor | float:
        """``2 log latent_scale`` per channel: what normalising adds to a posterior's log-variance."""
        if self.latent_scale is None:
            return 0.0
        return 2.0 * torch.log(_per_channel(self.latent_scale, like))

    def latent_frames(self, frames: int) -> int:
        """Latent frames ``t`` for ``frames = 1 + temporal_compression * k`` video frames."""
        return 1 + (frames - 1) // self.temporal_compression

    def video_frames(self, latent_frames: int) -> int:
        """Video frames ``T`` the decoder writes for ``latent_frames`` latent frames."""
        return 1 + (latent_frames - 1) * self.temporal_compression


class CausalVAEEncoderConfig(CausalVAEConfig):
    """The causal VAE encoder's config: the shared sizes plus how to read the posterior."""

    sample_posterior: bool = Field(
        False,
        description="write a sample of the posterior as `latent` instead of its mean (the particle is then stochastic)",
    )


class CausalVAEDecoderConfig(CausalVAEConfig):
    """The causal VAE decoder's config: the shared sizes."""
