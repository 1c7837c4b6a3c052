"""``latent_shift`` / ``latent_scale``: the encoder writes normalised latents and the decoder undoes it."""

from __future__ import annotations

import torch

from sora_core import registry

SMALL = {"base_channels": 8, "latent_channels": 2}
NORMALISED = {**SMALL, "latent_shift": [0.5, -1.0], "latent_scale": [2.0, 0.25]}


def _pair(config: dict[str, object]) -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(0)
    encoder = registry.create("sora-vae:causal-vae-encoder", **config).eval()
    decoder = registry.create("sora-vae:causal-vae-decoder", **config).eval()
    return encoder, decoder


def test_the_encoder_shifts_and_scales_each_channel_and_the_decoder_inverts_it() -> None:
    raw_encoder, raw_decoder = _pair(SMALL)
    encoder, decoder = _pair(NORMALISED)
    video = torch.rand((1, 3, 5, 8, 8), generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        raw_mean, raw_logvar = raw_encoder.moments(video)
        mean, logvar = encoder.moments(video)
        shift = torch.tensor([0.5, -1.0]).view(1, 2, 1, 1, 1)
        scale = torch.tensor([2.0, 0.25]).view(1, 2, 1, 1, 1)
        torch.testing.assert_close(mean, (raw_mean - shift) * scale)
        # a posterior's spread scales with the latent: log-variance gains 2 log(scale)
        torch.testing.assert_close(logvar, raw_logvar + 2 * torch.log(scale))
        torch.testing.assert_close(decoder(latent=mean)["video"], raw_decoder(latent=raw_mean)["video"])


def test_normalisation_is_saved_with_the_weights(tmp_path) -> None:
    encoder, _ = _pair(NORMALISED)
    encoder.save_pretrained(tmp_path / "encoder")
    loaded = registry.load("sora-vae:causal-vae-encoder", weights=tmp_path / "encoder")
    assert loaded.config.latent_scale == (2.0, 0.25)
    assert loaded.config.latent_shift == (0.5, -1.0)
