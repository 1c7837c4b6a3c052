"""An exponential moving average of a model's weights, the copy a diffusion run ships.

A short run at a high learning rate leaves the raw weights wherever the last noisy steps put them; their
average over the last few hundred steps samples cleaner videos. The decay ramps up as ``(1 + n) / (10 + n)``
(capped at ``decay``) so that an average started at step 0 does not remember the initial weights for
thousands of steps.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

__all__ = ["ema_copy", "ema_decay", "ema_update"]


def ema_copy(model: Any) -> Any:
    """A frozen copy of ``model`` to hold the average (same class, config and weights)."""
    average = copy.deepcopy(model)
    average.eval()
    average.requires_grad_(False)
    return average


def ema_decay(decay: float, updates: int) -> float:
    """The decay of update number ``updates`` (0-based): ``min(decay, (1 + n) / (10 + n))``."""
    return min(decay, (1.0 + updates) / (10.0 + updates))


@torch.no_grad()
def ema_update(average: Any, model: Any, decay: float, updates: int) -> None:
    """Move ``average`` towards ``model``: ``average = d * average + (1 - d) * model`` (buffers copied)."""
    weight = 1.0 - ema_decay(decay, updates)
    for mean, current in zip(average.parameters(), model.parameters(), strict=True):
        mean.lerp_(current.detach(), weight)
    for mean, current in zip(average.buffers(), model.buffers(), strict=True):
        mean.copy_(current)
