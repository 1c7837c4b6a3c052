"""The VAE in pipelines: latent spaces keep decoders to their own encoder's latents; sampling is seeded."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from sora_vae.spaces import DEFAULT_LATENT_SPACE, latent_space

from sora_core import registry
from sora_core.errors import PipelineError
from sora_core.pipeline import PipelineBuilder

SMALL = {"base_channels": 8}


def round_trip(encoder: dict[str, Any], decoder: dict[str, Any]) -> PipelineBuilder:
    return (
        PipelineBuilder("vae-round-trip")
        .node("encoder", "causal-vae-encoder", **encoder)
        .node("decoder", "causal-vae-decoder", **decoder)
        .connect("encoder.latent", "decoder.latent")
        .input("video", "encoder.video")
        .output("video", "decoder.video")
        .output("latent", "encoder.latent")
    )


def test_the_plugin_is_listed_with_its_kinds_and_space() -> None:
    found = {info.full_name: info for info in registry.list(pattern="sora-vae:*")}
    assert {name: info.kind for name, info in found.items()} == {
        "sora-vae:causal-vae-encoder": "video_encoder",
        "sora-vae:causal-vae-decoder": "video_decoder",
    }
    assert found["sora-vae:causal-vae-encoder"].outputs["latent"].space == DEFAULT_LATENT_SPACE
    assert found["sora-vae:causal-vae-decoder"].inputs["latent"].space == DEFAULT_LATENT_SPACE
    assert DEFAULT_LATENT_SPACE == "latent/sora-causal-vae-c8t4s4@1"
    assert DEFAULT_LATENT_SPACE in registry.spaces()
    assert set(found) <= {info.full_name for info in registry.list(space=DEFAULT_LATENT_SPACE)}


def test_an_encoder_and_decoder_of_one_config_run_as_a_pipeline() -> None:
    pipe = round_trip(SMALL, SMALL).build(seed=0)
    clip = torch.rand(2, 3, 5, 16, 16) * 2 - 1
    out = pipe.run({"video": clip}, seed=0)
    assert out["video"].shape == clip.shape and out["latent"].shape == (2, 8, 2, 4, 4)


@pytest.mark.parametrize(
    ("decoder", "space"),
    [
        ({"temporal_compression": 2}, latent_space(8, 2, 4)),
        ({"spatial_compression": 8}, latent_space(8, 4, 8)),
        ({"latent_channels": 16}, latent_space(16, 4, 4)),
    ],
)
def test_a_decoder_of_another_config_is_refused_naming_both_spaces(decoder: dict[str, Any], space: str) -> None:
    with pytest.raises(PipelineError) as caught:
        round_trip(SMALL, {**SMALL, **decoder}).build(materialize=False)
    message = caught.value.message
    assert f"output is {DEFAULT_LATENT_SPACE!r}, input expects {space!r}" in message
    assert "encoder.latent" in message and "decoder.latent" in message
    if "latent_channels" in decoder:  # the channel count is part of the shapes too
        assert "8" in message and "16" in message and "shape" in message


def test_sampling_is_stochastic_and_seeded() -> None:
    plain = registry.create("causal-vae-encoder", **SMALL)
    sampling = registry.create("causal-vae-encoder", **SMALL, sample_posterior=True)
    assert not getattr(plain, "stochastic", False)
    assert sampling.stochastic is True
    sampling.load_state_dict(plain.state_dict())
    clip = torch.rand(1, 3, 5, 8, 8) * 2 - 1
    with torch.no_grad():
        mean = plain(video=clip)
        torch.manual_seed(1)
        first = sampling(video=clip)
        torch.manual_seed(1)
        again = sampling(video=clip)
    torch.testing.assert_close(first["logvar"], mean["logvar"])
    torch.testing.assert_close(first["latent"], again["latent"])
    assert not torch.allclose(first["latent"], mean["latent"])
    pipe = round_trip({**SMALL, "sample_posterior": True}, SMALL).build(seed=0)
    runs = [pipe.run({"video": clip}, seed=seed)["latent"] for seed in (3, 3, 4)]
    torch.testing.assert_close(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])
