"""Learning-rate schedule: linear warm-up then cosine decay, a pure function of the step (nothing to checkpoint)."""

from __future__ import annotations

import math

import torch

__all__ = ["set_learning_rate", "warmup_cosine"]


def warmup_cosine(step: int, total: int, peak: float, warmup: int, floor: float = 0.1) -> float:
    """The learning rate at ``step`` (0-based): ``peak * (step + 1) / warmup``, then cosine to ``floor * peak``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
