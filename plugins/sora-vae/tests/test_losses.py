"""The public training helpers: reconstruction, KL, the weighted sum, and gradients through a round trip."""

from __future__ import annotations

import math

import pytest
import torch
from sora_vae.losses import VAELoss, kl_divergence, reconstruction_loss, sample_latent, vae_loss

from sora_core import registry


def test_reconstruction_loss_kinds() -> None:
    video = torch.zeros(1, 3, 1, 2, 2)
    reconstruction = torch.full_like(video, 0.5)
    assert reconstruction_loss(video, reconstruction).item() == pytest.approx(0.5)
    assert reconstruction_loss(video, reconstruction, "mse").item() == pytest.approx(0.25)
    assert reconstruction_loss(video, reconstruction, "l1+mse").item() == pytest.approx(0.75)


def test_kl_is_zero_at_the_prior_and_matches_the_closed_form() -> None:
    zeros = torch.zeros(2, 4, 1, 2, 2)
    assert kl_divergence(zeros, zeros).item() == 0.0
    mean, logvar = torch.full_like(zeros, 1.0), torch.full_like(zeros, math.log(2.0))
    assert kl_divergence(mean, logvar).item() == pytest.approx(0.5 * (1 + 2 - 1 - math.log(2.0)))


def test_vae_loss_weights_the_kl() -> None:
    video, mean = torch.zeros(1, 3, 1, 2, 2), torch.ones(1, 4, 1, 1, 1)
    loss = vae_loss(video, video + 0.1, mean, torch.zeros_like(mean), kl_weight=0.5)
    assert isinstance(loss, VAELoss)
    assert loss.reconstruction.item() == pytest.approx(0.1)
    assert loss.kl.item() == pytest.approx(0.5)
    assert loss.total.item() == pytest.approx(0.1 + 0.25)


def test_samples_follow_the_posterior() -> None:
    mean, logvar = torch.full((20000,), 2.0), torch.full((20000,), math.log(0.25))
    sample = sample_latent(mean, logvar, generator=torch.Generator().manual_seed(0))
    assert sample.mean().item() == pytest.approx(2.0, abs=0.02)
    assert sample.std().item() == pytest.approx(0.5, abs=0.02)


def test_gradients_reach_every_parameter_through_a_round_trip() -> None:
    torch.manual_seed(0)
    config = {"base_channels": 8, "latent_channels": 4, "temporal_compression": 2, "spatial_compression": 2}
    encoder = registry.create("causal-vae-encoder", **config).train()
    decoder = registry.create("causal-vae-decoder", **config).train()
    video = torch.rand(2, 3, 3, 8, 8) * 2 - 1
    out = encoder(video=video)
    reconstruction = decoder(latent=sample_latent(out["latent"], out["logvar"]))["video"]
    vae_loss(video, reconstruction, out["latent"], out["logvar"]).total.backward()
    for name, parameter in [*encoder.named_parameters(), *decoder.named_parameters()]:
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
