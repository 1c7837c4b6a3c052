"""Degradations of a clip, to test the evaluator on videos as blurry and noisy as a generator's.

Each takes a video tensor ``(3, T, H, W)`` or ``(B, 3, T, H, W)`` in ``[-1, 1]`` and returns one of
the same shape. They compute in numpy on one thread: on a busy shared CPU, torch's threaded
element-wise kernels cost more in waiting than in work for tensors this small.
:data:`DEGRADATIONS` names the set ``python -m sora_synth.validate`` reports.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from sora_core.video_io import VideoError

__all__ = ["DEGRADATIONS", "add_noise", "blur", "colour_shift", "downsample", "temporal_blur"]


def _array(video: torch.Tensor) -> np.ndarray:
    if video.dim() not in (4, 5):
        raise VideoError(f"expected a video (3, T, H, W) or (B, 3, T, H, W), got shape {tuple(video.shape)}")
    return video.detach().float().cpu().numpy()


def _shifted_sum(array: np.ndarray, kernel: np.ndarray, axis: int) -> np.ndarray:
    """Correlate ``array`` with ``kernel`` along ``axis``, edges replicated."""
    radius = len(kernel) // 2
    pad = [(0, 0)] * array.ndim
    pad[axis] = (radius, radius)
    padded = np.pad(array, pad, mode="edge")
    length = array.shape[axis]
    out = np.zeros_like(array)
    for offset, weight in enumerate(kernel):
        out += weight * np.take(padded, np.arange(offset, offset + length), axis=axis)
    return out


def blur(video: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of every frame (standard deviation ``sigma`` pixels), edges replicated."""
    radius = max(1, math.ceil(3 * sigma))
    x = np.arange(-radius, radius + 1, dtype=np.float32)
    kernel = np.exp(-(x**2) / (2 * sigma**2))
    kernel /= kernel.sum()
    array = _array(video)
    out = _shifted_sum(_shifted_sum(array, kernel, array.ndim - 2), kernel, array.ndim - 1)
    return torch.from_numpy(out)


def add_noise(video: torch.Tensor, std: float, seed: int = 0) -> torch.Tensor:
    """Gaussian noise of standard deviation ``std`` (in the [-1, 1] scale), clamped back to [-1, 1]."""
    array = _array(video)
    noise = np.random.default_rng(seed).standard_normal(array.shape, dtype=np.float32) * np.float32(std)
    return torch.from_numpy(np.clip(array + noise, -1.0, 1.0))


def downsample(video: torch.Tensor, factor: int) -> torch.Tensor:
    """Average-pool each frame by ``factor``, then bilinear upsampling back: detail a small latent cannot keep."""
    array = _array(video)
    *lead, height, width = array.shape
    h, w = height // factor, width // factor
    cropped = array[..., : h * factor, : w * factor]
    small = cropped.reshape(*lead, h, factor, w, factor).mean(axis=(-3, -1))
    out = _resize(_resize(small, height, axis=-2), width, axis=-1)
    return torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32))


def _resize(array: np.ndarray, size: int, axis: int) -> np.ndarray:
    """Linear interpolation along ``axis`` to ``size`` samples (pixel centres aligned, edges clamped)."""
    length = array.shape[axis]
    position = np.clip((np.arange(size) + 0.5) * length / size - 0.5, 0, length - 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, length - 1)
    shape = [1] * array.ndim
    shape[axis] = size
    fraction = (position - low).reshape(shape)
    return np.take(array, low, axis=axis) * (1 - fraction) + np.take(array, high, axis=axis) * fraction


def temporal_blur(video: torch.Tensor, weight: float = 0.25) -> torch.Tensor:
    """Each frame mixed with its neighbours (``weight`` each): ghosting, as a temporally compressed latent gives."""
    array = _array(video)
    kernel = np.array([weight, 1 - 2 * weight, weight], dtype=np.float32)
    return torch.from_numpy(_shifted_sum(array, kernel, array.ndim - 3))


def colour_shift(video: torch.Tensor, gain: float = 0.1, offset: float = 0.05, seed: int = 0) -> torch.Tensor:
    """Each channel scaled by a random factor in ``1 +- gain`` and moved by up to ``+-offset`` (a colour cast)."""
    array = _array(video)
    rng = np.random.default_rng(seed)
    shape = [1] * array.ndim
    shape[array.ndim - 4] = 3
    scale = rng.uniform(1 - gain, 1 + gain, 3).astype(np.float32).reshape(shape)
    shift = rng.uniform(-offset, offset, 3).astype(np.float32).reshape(shape)
    return torch.from_numpy(np.clip((array + 1) * scale - 1 + shift, -1.0, 1.0))


#: Named degradations, each ``video, seed -> video``: the conditions the validation reports.
DEGRADATIONS: dict[str, Callable[[torch.Tensor, int], torch.Tensor]] = {
    "blur 1.0": lambda v, s: blur(v, 1.0),
    "blur 1.5": lambda v, s: blur(v, 1.5),
    "noise 0.1": lambda v, s: add_noise(v, 0.1, s),
    "blur 1.0 + noise 0.1": lambda v, s: add_noise(blur(v, 1.0), 0.1, s),
    "downsample 2": lambda v, s: downsample(v, 2),
    "downsample 4": lambda v, s: downsample(v, 4),
    "temporal blur": lambda v, s: temporal_blur(v, 0.15),
    "colour shift": lambda v, s: colour_shift(v, 0.1, 0.05, s),
    "blur 1.5 + noise 0.15 + ghost": lambda v, s: add_noise(temporal_blur(blur(v, 1.5), 0.2), 0.15, s),
}
