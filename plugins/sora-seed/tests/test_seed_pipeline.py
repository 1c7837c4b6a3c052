"""The seed's SoraModel as a pipeline, both ways: the corrected ``seed`` template and the original wiring."""

from __future__ import annotations

import pytest
import torch
from sora_seed.monolith import SeedMonolith

from sora_core.errors import PipelineError
from sora_core.pipeline import Pipeline


def seed_example() -> dict[str, torch.Tensor]:
    """The seed design's example: batch 16, sequence 10, features 512."""
    generator = torch.Generator().manual_seed(1)
    return {
        "text": torch.randn(16, 10, 512, generator=generator),
        "video_features": torch.randn(16, 10, 512, generator=generator),
    }


def test_corrected_seed_pipeline_equals_the_monolith() -> None:
    pipe = Pipeline.from_template("seed", seed=0)
    monolith = SeedMonolith.from_pipeline(pipe)
    inputs = seed_example()

    video = pipe.run(inputs)["video"]
    with torch.inference_mode():
        expected = monolith(inputs["text"], inputs["video_features"])

    assert video.shape == (16, 10, 512)
    torch.testing.assert_close(video, expected, rtol=0, atol=1e-6)


def test_the_monolith_is_not_trivially_equal() -> None:
    """Changing one weight in the monolith changes its output: the comparison above can fail."""
    pipe = Pipeline.from_template("seed", seed=0)
    monolith = SeedMonolith.from_pipeline(pipe)
    inputs = seed_example()
    with torch.no_grad():
        monolith.score.weight.mul_(2.0)
        changed = monolith(inputs["text"], inputs["video_features"])
    assert (changed - pipe.run(inputs)["video"]).abs().max() > 1e-4


def test_original_seed_wiring_is_rejected_naming_the_edge_and_both_sizes() -> None:
    with pytest.raises(PipelineError) as caught:
        Pipeline.from_template("seed-original", materialize=False)
    message = str(caught.value)
    assert "video_decoder.hidden -> attention.query" in message
    assert "512 (from video_decoder) vs 256 (from attention)" in message
