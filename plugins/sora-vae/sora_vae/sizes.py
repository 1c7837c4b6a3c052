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


def _nearest_frames(frames: int, temporal: int) -> str:
    below = 1 + max(frames - 1, 0) // temporal * temporal
    above = below + temporal
    return f"T={below}" if frames < 1 else f"T={below} or T={above}"


def _tensor_problems(particle: str, port: str, value: Any, layout: str) -> list[str]:
    if not isinstance(value, torch.Tensor):
        return [f"{particle}: input {port!r} is a {type(value).__name__}, needs a float tensor {layout}"]
    if value.dim() != 5:
        return [f"{particle}: input {port!r} has shape {tuple(value.shape)} (rank {value.dim()}), needs {layout}"]
    if not value.is_floating_point():
        dtype = str(value.dtype).removeprefix("torch.")
        return [f"{particle}: input {port!r} has dtype {dtype}, needs a float tensor {layout}"]
    return []


def check_video(particle: str, video: Any, config: CausalVAEConfig) -> None:
    """Raise ``VideoSizeError`` unless ``video`` is ``(B, 3, 1 + k * temporal_compression, H, W)`` with H, W fitting."""
    layout = "(B, C=3, T, H, W)"
    problems = _tensor_problems(particle, "video", video, layout)
    hints = []
    if not problems:
        _, channels, frames, height, width = video.shape
        if channels != 3:
            problems.append(f"{particle}: input 'video' has C={channels} channels: needs C=3 (RGB in [-1, 1])")
            hints.append("pass RGB video laid out (B, 3, T, H, W)")
        temporal = config.temporal_compression
        if frames < 1 or (frames - 1) % temporal:
            problems.append(f"{particle}: input 'video' has T={frames} frames: {_frame_rule(temporal)}")
            hints.append(f"trim or pad the clip to {_nearest_frames(frames, temporal)} frames")
        spatial = config.spatial_compression
        for axis, size in (("H", height), ("W", width)):
            if size < spatial or size % spatial:
                near = max(spatial, size // spatial * spatial)
                problems.append(
                    f"{particle}: input 'video' has {axis}={size}: needs {axis} divisible by "
                    f"spatial_compression={spatial} (e.g. {axis}={near} or {axis}={near + spatial})"
                )
                hints.append(f"crop or resize {axis} to a multiple of {spatial}")
    if problems:
        raise VideoSizeError("; ".join(problems), "; ".join(hints) or f"pass a float tensor {layout}")


def check_latent(particle: str, latent: Any, config: CausalVAEConfig) -> None:
    """Raise ``VideoSizeError`` unless ``latent`` is ``(B, latent_channels, t, h, w)`` with t, h, w >= 1."""
    layout = f"(B, c={config.latent_channels}, t, h, w)"
    problems = _tensor_problems(particle, "latent", latent, layout)
    hint = f"pass latents of space {config.latent_space!r}, laid out {layout}"
    if not problems:
        _, channels, frames, height, width = latent.shape
        if channels != config.latent_channels:
            problems.append(
                f"{particle}: input 'latent' has c={channels} channels: needs c={config.latent_channels} "
                f"(latent_channels; space {config.latent_space!r})"
            )
            hint = "decode with the decoder of the VAE that wrote these latents (same latent_channels)"
        for axis, size in (("t", frames), ("h", height), ("w", width)):
            if size < 1:
                problems.append(f"{particle}: input 'latent' has {axis}={size}: needs {axis} >= 1")
    if problems:
        raise VideoSizeError("; ".join(problems), hint)
