"""Every bad size, dtype and config gives a SoraError naming the particle, port, size and rule."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from sora_vae.errors import VideoSizeError

from sora_core import registry
from sora_core.errors import ConfigError, PortError, SoraError

ENCODER, DECODER = "sora-vae:causal-vae-encoder", "sora-vae:causal-vae-decoder"
SMALL = {"base_channels": 8}


VIDEO = [
    (torch.zeros(1, 3, 6, 16, 16), "input 'video' has T=6 frames: needs T = 1 + 4k (1, 5, 9, ...)"),
    (torch.zeros(1, 3, 0, 16, 16), "has T=0 frames: needs T = 1 + 4k"),
    (torch.zeros(1, 3, 5, 30, 16), "has H=30: needs H divisible by spatial_compression=4 (e.g. H=28 or H=32)"),
    (torch.zeros(1, 3, 5, 16, 18), "has W=18: needs W divisible by spatial_compression=4"),
    (torch.zeros(1, 3, 5, 2, 4), "has H=2: needs H divisible by spatial_compression=4"),
    (torch.zeros(1, 4, 5, 16, 16), "has C=4 channels: needs C=3"),
    (torch.zeros(3, 5, 16, 16), "has shape (3, 5, 16, 16) (rank 4): needs (B, C=3, T, H, W)"),
    (torch.zeros(1, 3, 5, 16, 16, dtype=torch.int64), "has dtype int64: needs a float tensor"),
    (torch.zeros(0, 3, 5, 16, 16), "has B=0 items: needs B >= 1"),
    ([[0.0]], "is a list: needs a float tensor"),
]
LATENT = [
    (torch.zeros(1, 16, 2, 4, 4), "has c=16 channels: needs c=8 (latent_channels; space "),
    (torch.zeros(1, 8, 0, 4, 4), "has t=0: needs t >= 1"),
    (torch.zeros(8, 2, 4, 4), "(rank 4): needs (B, c=8, t, h, w)"),
    (torch.zeros(1, 8, 2, 4, 4, dtype=torch.bool), "has dtype bool"),
    (None, "is a NoneType"),
]


@pytest.mark.parametrize(
    ("particle", "port", "value", "expected"),
    [(ENCODER, "video", *case) for case in VIDEO] + [(DECODER, "latent", *case) for case in LATENT],
    ids=[f"video-{i}" for i in range(len(VIDEO))] + [f"latent-{i}" for i in range(len(LATENT))],
)
def test_bad_inputs_are_refused_naming_particle_port_size_and_rule(
    particle: str, port: str, value: Any, expected: str
) -> None:
    with pytest.raises(VideoSizeError) as caught:
        registry.create(particle, **SMALL)(**{port: value})
    assert caught.value.message.startswith(f"{particle}: input {port!r}")
    assert expected in caught.value.message
    assert caught.value.hint
    assert isinstance(caught.value, PortError)


def test_every_video_problem_is_reported_at_once() -> None:
    encoder = registry.create(ENCODER, **SMALL, temporal_compression=2, spatial_compression=8)
    with pytest.raises(VideoSizeError) as caught:
        encoder(video=torch.zeros(1, 1, 4, 12, 20))
    message = caught.value.message
    assert "input 'video' (1, 1, 4, 12, 20)" in message
    for part in ("C=1", "T=4 frames: needs T = 1 + 2k (1, 3, 5, ...)", "H=12", "W=20"):
        assert part in message
    assert "trim the clip to T=3 or pad it to T=5 frames" in (caught.value.hint or "")


def test_any_frame_count_works_without_temporal_compression() -> None:
    encoder = registry.create(ENCODER, **SMALL, temporal_compression=1, spatial_compression=2)
    with torch.no_grad():
        assert encoder(video=torch.zeros(1, 3, 6, 4, 4))["latent"].shape[2] == 6


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"temporal_compression": 3}, "field 'temporal_compression' = 3"),
        ({"spatial_compression": 16}, "field 'spatial_compression' = 16"),
        ({"channel_multipliers": [1, 2]}, "needs 3 entries (one per resolution level"),
        ({"spatial_compression": 8, "channel_multipliers": [1, 2, 2]}, "needs 4 entries"),
        ({"channel_multipliers": [1, 0, 2]}, "every multiplier must be positive"),
        ({"num_res_blocks": 0}, "field 'num_res_blocks' = 0"),
        ({"latent_channels": 0}, "field 'latent_channels' = 0"),
        ({"latent_scale": [1.0, 2.0]}, "needs one value per latent channel (8), got 2"),
        ({"latent_channels": 2, "latent_scale": [1.0, 0.0]}, "every scale must be positive"),
        ({"latent_shift": [0.0]}, "needs one value per latent channel (8), got 1"),
        ({"sample_posterior": True, "bogus": 1}, "field 'bogus' is not a known option"),
    ],
)
def test_bad_configs_are_refused_naming_the_field(config: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        registry.create(ENCODER, **config)
    assert expected in caught.value.message


def test_the_decoder_has_no_sampling_flag() -> None:
    with pytest.raises(ConfigError, match="sample_posterior"):
        registry.create(DECODER, sample_posterior=True)


def test_losses_refuse_mismatched_shapes() -> None:
    from sora_vae.losses import reconstruction_loss

    with pytest.raises(SoraError, match=r"video has shape \(1, 3, 5, 8, 8\), reconstruction \(1, 3, 1, 8, 8\)"):
        reconstruction_loss(torch.zeros(1, 3, 5, 8, 8), torch.zeros(1, 3, 1, 8, 8))
