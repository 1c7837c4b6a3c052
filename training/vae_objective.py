"""The VAE stage's objective: sora-vae's reconstruction + KL loss, plus an edge term for crisp shape outlines."""

from __future__ import annotations

from typing import NamedTuple

import torch
from sora_vae.losses import sample_latent, vae_loss
from torch import Tensor

__all__ = ["VAEStepLoss", "edge_loss", "vae_step_loss"]


class VAEStepLoss(NamedTuple):
    total: Tensor
    reconstruction: Tensor
    kl: Tensor
    edge: Tensor


def edge_loss(video: Tensor, reconstruction: Tensor) -> Tensor:
    """L1 between the horizontal and vertical pixel differences of ``video`` and ``reconstruction``."""
    dx = (reconstruction.diff(dim=-1) - video.diff(dim=-1)).abs().mean()
    dy = (reconstruction.diff(dim=-2) - video.diff(dim=-2)).abs().mean()
    return dx + dy


def vae_step_loss(
    encoder: torch.nn.Module,
    decoder: torch.nn.Module,
    video: Tensor,
    generator: torch.Generator,
    kl_weight: float,
    edge_weight: float,
) -> VAEStepLoss:
    """Encode, sample the posterior with ``generator``, decode; L1 + MSE reconstruction, KL and edge terms."""
    mean, logvar = encoder.moments(video)
    latent = sample_latent(mean, logvar, generator=generator)
    reconstruction = decoder(latent=latent)["video"]
    loss = vae_loss(video, reconstruction, mean, logvar, kl_weight=kl_weight, kind="l1+mse")
    edge = edge_loss(video, reconstruction) if edge_weight else torch.zeros(())
    return VAEStepLoss(loss.total + edge_weight * edge, loss.reconstruction, loss.kl, edge)
