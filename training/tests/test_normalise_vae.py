"""normalise_vae: the rewritten VAE writes centred, unit-variance latents and still decodes the same video."""

from __future__ import annotations

from pathlib import Path

import torch

from sora_core import registry
from training.data import render_batch, train_scenes
from training.normalise_vae import STATS_SEED, normalise

TINY_VAE = {"base_channels": 8, "latent_channels": 4, "temporal_compression": 2, "spatial_compression": 2}


def test_normalised_latents_are_standardised_and_decode_unchanged(tmp_path: Path) -> None:
    torch.manual_seed(0)
    encoder = registry.create("sora-vae:causal-vae-encoder", **TINY_VAE).eval()
    decoder = registry.create("sora-vae:causal-vae-decoder", **TINY_VAE).eval()
    encoder.save_pretrained(tmp_path / "encoder")
    decoder.save_pretrained(tmp_path / "decoder")
    video = render_batch(train_scenes(STATS_SEED, 0, 8), frames=5, height=16, width=16)
    with torch.no_grad():
        before = decoder(latent=encoder(video=video)["latent"])["video"]

    normalise(tmp_path, clips=8)
    twice = normalise(tmp_path, clips=8)  # measured on the raw latents again, not on normalised ones

    encoder = registry.load("sora-vae:causal-vae-encoder", weights=tmp_path / "encoder")
    decoder = registry.load("sora-vae:causal-vae-decoder", weights=tmp_path / "decoder")
    assert list(encoder.config.latent_scale) == twice[1] == list(decoder.config.latent_scale)
    with torch.no_grad():
        latent = encoder(video=render_batch(train_scenes(STATS_SEED, 0, 8)))["latent"]
        after = decoder(latent=encoder(video=video)["latent"])["video"]
    per_channel = latent.transpose(0, 1).flatten(1)
    torch.testing.assert_close(per_channel.mean(1), torch.zeros(4), atol=1e-4, rtol=0)
    torch.testing.assert_close(per_channel.std(1), torch.ones(4), atol=1e-4, rtol=0)
    torch.testing.assert_close(after, before, atol=1e-5, rtol=1e-5)
