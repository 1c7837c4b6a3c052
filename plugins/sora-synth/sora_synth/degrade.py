"""Degradations of a clip, to test the evaluator on videos as blurry and noisy as a generator's.

Each takes and returns a video tensor ``(3, T, H, W)`` or ``(B, 3, T, H, W)`` in ``[-1, 1]``.
:data:`DEGRADATIONS` names the set ``python -m sora_synth.validate`` reports.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

__all__ = ["DEGRADATIONS", "add_noise", "blur", "downsample", "temporal_blur"]


def _as_batch(video: torch.Tensor) -> tuple[torch.Tensor, bool]:
    if video.dim() == 4:
        return video.unsqueeze(0), True
    if video.dim() == 5:
        return video, False
    raise ValueError(f"expected a video (3, T, H, W) or (B, 3, T, H, W), got shape {tuple(video.shape)}")


def blur(video: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of every frame (standard deviation ``sigma`` pixels), edges replicated."""
    batch, single = _as_batch(video.float())
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    h, w = batch.shape[-2:]
    padded = F.pad(batch, (radius, radius, radius, radius, 0, 0), mode="replicate")
    # separable, as sums of shifted copies: far faster on the CPU than a one-channel convolution
    rows = sum(weight * padded[..., i : i + h, :] for i, weight in enumerate(kernel.tolist()))
    out = sum(weight * rows[..., :, i : i + w] for i, weight in enumerate(kernel.tolist()))
    assert isinstance(out, torch.Tensor)
    return out[0] if single else out


def add_noise(video: torch.Tensor, std: float, seed: int = 0) -> torch.Tensor:
    """Gaussian noise of standard deviation ``std`` (in the [-1, 1] scale), clamped back to [-1, 1]."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(video.shape, generator=generator) * std
    return (video.float() + noise).clamp(-1.0, 1.0)


def downsample(video: torch.Tensor, factor: int) -> torch.Tensor:
    """Average-pool each frame by ``factor``, then bilinear upsampling back: detail a small latent cannot keep."""
    batch, single = _as_batch(video.float())
    b, c, t, h, w = batch.shape
    frames = batch.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
    small = F.avg_pool2d(frames, factor)
    out = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
    out = out.reshape(b, t, c, h, w).permute(0, 2, 1, 3, 4).contiguous()
    return out[0] if single else out


def temporal_blur(video: torch.Tensor, weight: float = 0.25) -> torch.Tensor:
    """Each frame mixed with its neighbours (``weight`` each): ghosting, as a temporally compressed latent gives."""
    batch, single = _as_batch(video.float())
    before = torch.cat([batch[:, :, :1], batch[:, :, :-1]], dim=2)
    after = torch.cat([batch[:, :, 1:], batch[:, :, -1:]], dim=2)
    out = (1 - 2 * weight) * batch + weight * (before + after)
    return out[0] if single else out


#: Named degradations, each ``video, seed -> video``: the conditions the validation reports.
DEGRADATIONS: dict[str, Callable[[torch.Tensor, int], torch.Tensor]] = {
    "blur 1.0": lambda v, s: blur(v, 1.0),
    "blur 1.5": lambda v, s: blur(v, 1.5),
    "noise 0.1": lambda v, s: add_noise(v, 0.1, s),
    "blur 1.0 + noise 0.1": lambda v, s: add_noise(blur(v, 1.0), 0.1, s),
    "downsample 2": lambda v, s: downsample(v, 2),
    "temporal blur": lambda v, s: temporal_blur(v, 0.15),
    "blur 1.5 + noise 0.15 + ghost": lambda v, s: add_noise(temporal_blur(blur(v, 1.5), 0.2), 0.15, s),
}
