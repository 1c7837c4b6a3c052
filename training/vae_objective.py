"""The VAE stage's objective: sora-vae's reconstruction + KL loss, an edge term for crisp shape outlines, and a
foreground term so that the few object pixels (whose colours the prompts name) weigh as much as the background."""

from __future__ import annotations

from typing import NamedTuple

import torch
from sora_vae.losses import sample_latent, vae_loss
from torch import Tensor

__all__ = ["VAEStepLoss", "edge_loss", "foreground_loss", "foreground_mask", "vae_step_loss"]


class VAEStepLoss(NamedTuple):
    total: Tensor
    reconstruction: Tensor
    kl: Tensor
    edge: Tensor
    foreground: Tensor


def edge_loss(video: Tensor, reconstruction: Tensor) -> Tensor:
    """L1 between the horizontal and vertical pixel differences of ``video`` and ``reconstruction``."""
    dx = (reconstruction.diff(dim=-1) - video.diff(dim=-1)).abs().mean()
    dy = (reconstruction.diff(dim=-2) - video.diff(dim=-2)).abs().mean()
    return dx + dy


def foreground_mask(video: Tensor, threshold: float = 0.1) -> Tensor:
    """``(B, 1, T, H, W)``: 1 where a pixel differs from its clip's background (the per-clip median colour)."""
    background = video.flatten(2).median(dim=-1).values[:, :, None, None, None]
    return ((video - background).abs().amax(dim=1, keepdim=True) > threshold).to(video.dtype)


def foreground_loss(video: Tensor, reconstruction: Tensor) -> Tensor:
    """L1 + MSE over the object pixels only, averaged over them (zero for a clip of pure background)."""
    mask = foreground_mask(video)
    error = reconstruction - video
    per_pixel = (error.abs() + error.square()).mean(dim=1, keepdim=True)
    return (per_pixel * mask).sum() / mask.sum().clamp_min(1.0)


def vae_step_loss(
    encoder: torch.nn.Module,
    decoder: torch.nn.Module,
    video: Tensor,
    generator: torch.Generator,
    kl_weight: float,
    edge_weight: float,
    foreground_weight: float = 0.0,
) -> VAEStepLoss:
    """Encode, sample the posterior with ``generator``, decode; L1 + MSE reconstruction, KL, edge, foreground."""
    mean, logvar = encoder.moments(video)
    latent = sample_latent(mean, logvar, generator=generator)
    reconstruction = decoder(latent=latent)["video"]
    loss = vae_loss(video, reconstruction, mean, logvar, kl_weight=kl_weight, kind="l1+mse")
    edge = edge_loss(video, reconstruction) if edge_weight else torch.zeros(())
    foreground = foreground_loss(video, reconstruction) if foreground_weight else torch.zeros(())
    total = loss.total + edge_weight * edge + foreground_weight * foreground
    return VAEStepLoss(total, loss.reconstruction, loss.kl, edge, foreground)
