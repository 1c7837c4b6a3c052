"""Checking videos and latents against the VAE's layout before any convolution sees them.

Every problem is reported at once in one :class:`~sora_vae.errors.VideoSizeError` naming the
particle, the port, the size and the rule, never as a raw torch error.
"""

from __future__ import annotations

from typing import Any

import torch

from sora_vae.config import CausalVAEConfig
from sora_vae.errors import VideoSizeError


def _frame_rule(temporal: int) -> str:
    if temporal == 1:
        return "needs T >= 1"
    examples = ", ".join(str(1 + temporal * k) for k in range(3))
    return f"needs T = 1 + {temporal}k ({examples}, ...) for temporal_compression={temporal}"


def _frame_hint(frames: int, temporal: int) -> str:
    if frames < 1:
        return "pass at least one frame"
    below = 1 + (frames - 1) // temporal * temporal
    return f"trim the clip to T={below} or pad it to T={below + temporal} frames"


def _raise(particle: str, port: str, value: Any, problems: list[str], hints: list[str]) -> None:
    if problems:
        shape = f" {tuple(value.shape)}" if isinstance(value, torch.Tensor) and len(problems) > 1 else ""
        raise VideoSizeError(f"{particle}: input {port!r}{shape} " + "; ".join(problems), "; ".join(hints))


def _tensor_problem(value: Any, layout: str) -> str | None:
    if not isinstance(value, torch.Tensor):
        return f"is a {type(value).__name__}: needs a float tensor {layout}"
    if value.dim() != 5:
        return f"has shape {tuple(value.shape)} (rank {value.dim()}): needs {layout}"
    if not value.is_floating_point():
        return f"has dtype {str(value.dtype).removeprefix('torch.')}: needs a float tensor {layout}"
    if value.shape[0] < 1:
        return f"has B={value.shape[0]} items: needs B >= 1"
    return None


def check_video(particle: str, video: Any, config: CausalVAEConfig) -> None:
    """Raise ``VideoSizeError`` unless ``video`` is ``(B, 3, 1 + k * temporal_compression, H, W)`` with H, W fitting."""
    layout = "(B, C=3, T, H, W)"
    wrong = _tensor_problem(video, layout)
    if wrong:
        _raise(particle, "video", video, [wrong], [f"pass RGB video in [-1, 1] as a float tensor {layout}"])
    problems, hints = [], []
    _, channels, frames, height, width = video.shape
    if channels != 3:
        problems.append(f"has C={channels} channels: needs C=3 (RGB in [-1, 1])")
        hints.append("pass RGB video laid out (B, 3, T, H, W)")
    temporal = config.temporal_compression
    if frames < 1 or (frames - 1) % temporal:
        problems.append(f"has T={frames} frames: {_frame_rule(temporal)}")
        hints.append(_frame_hint(frames, temporal))
    spatial = config.spatial_compression
    for axis, size in (("H", height), ("W", width)):
        if size < spatial or size % spatial:
            near = max(spatial, size // spatial * spatial)
            problems.append(
                f"has {axis}={size}: needs {axis} divisible by spatial_compression={spatial} "
                f"(e.g. {axis}={near} or {axis}={near + spatial})"
            )
            hints.append(f"crop or resize {axis} to a multiple of {spatial}")
    _raise(particle, "video", video, problems, hints)


def check_latent(particle: str, latent: Any, config: CausalVAEConfig) -> None:
    """Raise ``VideoSizeError`` unless ``latent`` is ``(B, latent_channels, t, h, w)`` with t, h, w >= 1."""
    layout = f"(B, c={config.latent_channels}, t, h, w)"
    hint = f"pass latents of space {config.latent_space!r}, laid out {layout}"
    wrong = _tensor_problem(latent, layout)
    if wrong:
        _raise(particle, "latent", latent, [wrong], [hint])
    problems = []
    _, channels, frames, height, width = latent.shape
    if channels != config.latent_channels:
        problems.append(
            f"has c={channels} channels: needs c={config.latent_channels} "
            f"(latent_channels; space {config.latent_space!r})"
        )
        hint = "decode with the decoder of the VAE that wrote these latents (same latent_channels)"
    problems += [
        f"has {axis}={size}: needs {axis} >= 1"
        for axis, size in (("t", frames), ("h", height), ("w", width))
        if size < 1
    ]
    _raise(particle, "latent", latent, problems, [hint])
