"""The encoder's diagonal Gaussian posterior: sampling it and its KL divergence from N(0, I)."""

from __future__ import annotations

import torch
from torch import Tensor

#: ``logvar`` is clamped to this range by the encoder (as in latent diffusion VAEs), so ``exp`` stays finite.
LOGVAR_RANGE: tuple[float, float] = (-30.0, 20.0)


def sample_latent(mean: Tensor, logvar: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """A reparameterised sample ``mean + exp(logvar / 2) * eps`` of the posterior (differentiable)."""
    noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
    return mean + torch.exp(0.5 * logvar) * noise


def kl_divergence(mean: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mean, exp(logvar)) || N(0, 1)) per element, averaged over every element (a scalar).

    Averaging (not summing) keeps its scale independent of the batch and video size.
    """
    return 0.5 * torch.mean(mean.square() + logvar.exp() - 1.0 - logvar)
