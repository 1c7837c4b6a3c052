"""Training objectives of the causal VAE: reconstruction, KL to N(0, I), and their weighted sum.

Typical use (the encoder in its default mean mode, sampling done here so gradients flow)::

    out = encoder(video=video)
    latent = sample_latent(out["latent"], out["logvar"])
    reconstruction = decoder(latent=latent)["video"]
    loss = vae_loss(video, reconstruction, out["latent"], out["logvar"], kl_weight=1e-4)
    loss.total.backward()
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch.nn.functional as F
from torch import Tensor

from sora_core.errors import SoraError
from sora_vae.posterior import kl_divergence, sample_latent

__all__ = ["VAELoss", "kl_divergence", "reconstruction_loss", "sample_latent", "vae_loss"]


class VAELoss(NamedTuple):
    """The loss terms: ``total = reconstruction + kl_weight * kl``."""

    total: Tensor
    reconstruction: Tensor
    kl: Tensor


def reconstruction_loss(video: Tensor, reconstruction: Tensor, kind: Literal["l1", "mse", "l1+mse"] = "l1") -> Tensor:
    """Mean per-pixel error between ``video`` and its ``reconstruction`` (same shape), as a scalar."""
    if video.shape != reconstruction.shape:
        raise SoraError(
            f"reconstruction_loss: video has shape {tuple(video.shape)}, reconstruction {tuple(reconstruction.shape)}",
            "decode the encoder's latent of this very video with the decoder of the same config",
        )
    if kind == "l1":
        return F.l1_loss(reconstruction, video)
    if kind == "mse":
        return F.mse_loss(reconstruction, video)
    if kind == "l1+mse":
        return F.l1_loss(reconstruction, video) + F.mse_loss(reconstruction, video)
    raise SoraError(f"reconstruction_loss: unknown kind {kind!r}", "use 'l1', 'mse' or 'l1+mse'")


def vae_loss(
    video: Tensor,
    reconstruction: Tensor,
    mean: Tensor,
    logvar: Tensor,
    kl_weight: float = 1e-4,
    kind: Literal["l1", "mse", "l1+mse"] = "l1",
) -> VAELoss:
    """The VAE objective: :func:`reconstruction_loss` plus ``kl_weight`` times :func:`kl_divergence`.

    Both terms are means over elements (pixels, latent elements), so ``kl_weight`` does not depend on
    the batch or clip size.
    """
    rec = reconstruction_loss(video, reconstruction, kind)
    kl = kl_divergence(mean, logvar)
    return VAELoss(rec + kl_weight * kl, rec, kl)
