"""latent-captioner: captions written from detections, its component and its errors (untrained weights here;
the trained ones are judged by the project's tests/test_understand_cli.py and benchmarks/bench_understanding.py)."""

from __future__ import annotations

import pytest
import torch

from sora_core import registry
from sora_core.errors import ComponentError, ConfigError, PortError

CAPTIONER, ENCODER = "sora-understand:latent-captioner", "sora-vae:causal-vae-encoder"


def captioner(**config: object):  # type: ignore[no-untyped-def]
    particle = registry.create(CAPTIONER, **config)
    particle.bind_components({"encoder": registry.create(ENCODER)})
    return particle.eval()


def test_one_caption_and_count_per_clip() -> None:
    torch.manual_seed(0)
    out = captioner(threshold=0.01)(video=torch.rand(2, 3, 9, 64, 64) * 2 - 1)
    assert len(out["caption"]) == 2 and out["count"].shape == (2,)
    assert all(caption.endswith("background") for caption in out["caption"])
    assert int(out["count"].max()) <= 4  # max_objects


def test_captions_are_written_from_the_detected_words() -> None:
    particle = captioner()
    vocabulary = particle.vocabulary()
    assert vocabulary["shapes"] == ["circle", "square", "triangle"]
    with torch.no_grad():
        for module in particle.detector.modules():  # every cell an object: red, circle, small, moving right
            if isinstance(module, torch.nn.Conv2d) and module.out_channels == particle.detector.head.out_channels:
                module.weight.zero_()
                module.bias.fill_(-10.0)
                module.bias[0] = 10.0
                for index in (3, 3 + 8, 3 + 8 + 3, 3 + 8 + 3 + 2 + 1):  # red, circle, small, right
                    module.bias[index] = 10.0
    caption = particle(video=torch.zeros(1, 3, 9, 64, 64))["caption"][0]
    assert caption.startswith("A small red circle moving right")
    assert caption.count(" and ") == 3  # four objects at most, each a local maximum


def test_growing_objects_get_no_size_word_and_empty_clips_say_so() -> None:
    particle = captioner()
    from sora_understand.captioner import Description, DetectedObject  # the plugin's own data types

    grows = DetectedObject("orange", "triangle", "large", "growing", 0.5, 0.5, 0.9)
    assert particle.write(Description((grows,), "navy")) == "An orange triangle growing on a navy background"
    assert particle.write(Description((), "black")) == "An empty black background"


def test_refuses_bad_video_config_and_missing_encoder() -> None:
    particle = captioner()
    with pytest.raises(PortError, match=r"expected \(B, 3, T, H, W\)"):
        particle(video=torch.zeros(3, 9, 32, 32))
    with pytest.raises(ConfigError, match="repeat a word"):
        registry.create(CAPTIONER, colours=["red", "red"])
    with pytest.raises(ConfigError, match="not in motions"):
        registry.create(CAPTIONER, motions=["left"])
    with pytest.raises(ComponentError, match="'encoder'"):
        registry.create(CAPTIONER)(video=torch.zeros(1, 3, 9, 32, 32))
