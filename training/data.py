"""Seeded clips of the synthetic domain (sora-synth), drawn on the fly.

Training batch ``step`` of run seed ``seed`` is a pure function of ``(seed, step)``, so a resumed run
sees exactly the clips an uninterrupted one would, with no data-loader state to checkpoint. Held-out
clips come from a different seed stream (:data:`HELD_OUT`), which training never draws from.
"""

from __future__ import annotations

import numpy as np
import torch
from sora_synth.scene import Scene, render_tensor, sample_scene

__all__ = ["HELD_OUT", "TRAIN", "held_out_scenes", "render_batch", "train_batch", "train_scenes"]

#: First entropy word of the training stream and of the held-out stream (never equal).
TRAIN = 0x7EA1
HELD_OUT = 0xE7A1

FRAMES, HEIGHT, WIDTH = 9, 64, 64


def train_scenes(seed: int, step: int, batch: int) -> list[Scene]:
    """The ``batch`` scenes of training step ``step`` for run seed ``seed``."""
    rng = np.random.default_rng([TRAIN, seed, step])
    return [sample_scene(rng) for _ in range(batch)]


def held_out_scenes(count: int, offset: int = 0, aspect: float = 1.0) -> list[Scene]:
    """``count`` scenes no training run draws (clip ``i`` is seeded by ``[HELD_OUT, offset + i]``), laid out for
    frames of width/height ``aspect``."""
    return [sample_scene(np.random.default_rng([HELD_OUT, offset + i]), aspect=aspect) for i in range(count)]


def render_batch(scenes: list[Scene], frames: int = FRAMES, height: int = HEIGHT, width: int = WIDTH) -> torch.Tensor:
    """``(B, 3, frames, height, width)`` float32 in [-1, 1]."""
    return torch.stack([render_tensor(s, frames=frames, height=height, width=width) for s in scenes])


def train_batch(seed: int, step: int, batch: int, crop: int = 0) -> torch.Tensor:
    """The rendered clips of training step ``step``; with ``crop``, ``crop x crop`` windows holding an object.

    The VAE is fully convolutional, so training on 32x32 windows of the 64x64 clips costs a quarter as
    much per clip and still teaches it the domain's pixel scale; each window holds the centre of a
    randomly chosen object in a randomly chosen frame, so few windows are empty background.
    """
    scenes = train_scenes(seed, step, batch)
    video = render_batch(scenes)
    if not crop or crop >= min(HEIGHT, WIDTH):
        return video
    rng = np.random.default_rng([TRAIN, seed, step, 1])
    windows = []
    for clip, scene in zip(video, scenes, strict=True):
        obj = scene.objects[int(rng.integers(len(scene.objects)))]
        x, y, _ = obj.track(FRAMES)[int(rng.integers(FRAMES))]
        top = int(np.clip(round(y * HEIGHT) - rng.integers(4, crop - 4), 0, HEIGHT - crop))
        left = int(np.clip(round(x * WIDTH) - rng.integers(4, crop - 4), 0, WIDTH - crop))
        windows.append(clip[:, :, top : top + crop, left : left + crop])
    return torch.stack(windows)
