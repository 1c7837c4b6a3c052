"""Every sora-vae particle passes sora-core's conformance kit, at the defaults and at other compressions."""

from __future__ import annotations

from typing import Any

import pytest

from sora_core.testing import assert_conforms, conformance_suite

test_conformance = conformance_suite("sora-vae")

SMALL = {"base_channels": 8, "latent_channels": 4}


@pytest.mark.parametrize("particle", ["sora-vae:causal-vae-encoder", "sora-vae:causal-vae-decoder"])
@pytest.mark.parametrize(
    "config",
    [
        {"temporal_compression": 1, "spatial_compression": 2},
        {"temporal_compression": 2, "spatial_compression": 8, "num_res_blocks": 2},
        {"temporal_compression": 4, "spatial_compression": 2, "channel_multipliers": [1, 1, 2]},
    ],
    ids=["t1s2", "t2s8", "t4s2"],
)
def test_conformance_at_other_sizes(particle: str, config: dict[str, Any]) -> None:
    assert_conforms(particle, {**SMALL, **config})


def test_a_sampling_encoder_conforms() -> None:
    """With ``sample_posterior`` the latent is random, yet seeded runs repeat and samples stay independent."""
    assert_conforms("sora-vae:causal-vae-encoder", {**SMALL, "sample_posterior": True})
