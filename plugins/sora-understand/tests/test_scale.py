"""Clips at another scale than the captioner's trained 64x64: a whole multiple (a --scale k clip) is downscaled
by k and described as the 64x64 clip is; any other size is refused naming both sizes, by the captioner and by
the question answerer and summarizer that call it (before: a --scale 4 clip was "an empty background")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sora_core import registry
from sora_core.cli.main import main
from sora_core.errors import ConfigError, PortError
from sora_core.pipeline import Pipeline
from sora_core.video_io import read_video, to_video, write_video


def scene(frames: int = 9) -> np.ndarray:
    """``(T, 64, 64, 3)`` uint8: a large red square moving right on black."""
    video = np.full((frames, 64, 64, 3), 8, dtype=np.uint8)
    for t in range(frames):
        video[t, 24:42, 6 + 3 * t : 24 + 3 * t] = (220, 40, 40)
    return video


def enlarged(frames: np.ndarray, scale: int) -> np.ndarray:
    """Each pixel a ``scale`` x ``scale`` block, as ``sora generate --scale`` writes it."""
    return frames.repeat(scale, axis=1).repeat(scale, axis=2)


def batch(frames: np.ndarray) -> torch.Tensor:
    return to_video(frames)[None]


@pytest.fixture(scope="module")
def v2t() -> Pipeline:
    return Pipeline.from_template("v2t", seed=0)


@pytest.fixture(scope="module")
def vqa() -> Pipeline:
    return Pipeline.from_template("vqa", seed=0)


@pytest.fixture(scope="module")
def summarize() -> Pipeline:
    return Pipeline.from_template("summarize", seed=0)


def test_a_scale_4_mp4_is_captioned_as_the_clip_it_was_made_from(v2t: Pipeline, tmp_path: Path) -> None:
    write_video(enlarged(scene(), 4), tmp_path / "big.mp4")  # H.264 yuv420p: not exact blocks any more
    big = batch(read_video(tmp_path / "big.mp4"))
    assert big.shape[-2:] == (256, 256)
    small = v2t.run({"video": batch(scene())}, seed=0)["caption"]
    assert "red square moving right" in small[0], small
    assert v2t.run({"video": big}, seed=0)["caption"] == small
    assert v2t.run({"video": batch(enlarged(scene(), 2))}, seed=0)["caption"] == small


def test_downscaling_averages_each_block_exactly() -> None:
    captioner = registry.create("sora-understand:latent-captioner")
    video = batch(scene())
    torch.testing.assert_close(captioner.at_trained_scale(batch(enlarged(scene(), 3))), video)
    assert captioner.at_trained_scale(video) is video  # the trained size passes untouched
    assert registry.create("sora-understand:latent-captioner", trained_size=None).at_trained_scale(
        torch.zeros(1, 3, 5, 32, 48)
    ).shape == (1, 3, 5, 32, 48)


@pytest.mark.parametrize(
    ("height", "width"),
    [(100, 100), (32, 32), (128, 64), (96, 128), (64, 192)],
)
def test_other_sizes_are_refused_naming_the_size_and_the_trained_one(v2t: Pipeline, height: int, width: int) -> None:
    video = torch.zeros(1, 3, 9, height, width)
    with pytest.raises(PortError, match=rf"latent-captioner: clips of {width}x{height} are not at the scale .*64x64"):
        v2t.run({"video": video}, seed=0)


def test_question_answerer_reads_an_enlarged_clip_and_refuses_an_odd_one(vqa: Pipeline) -> None:
    question = ["what colour is the square?"]
    assert vqa.run({"video": batch(enlarged(scene(), 4)), "question": question}, seed=0)["answer"] == ["red"]
    assert vqa.run({"video": batch(enlarged(scene(), 2)), "question": ["how many squares are there?"]})["answer"] == [
        "one"
    ]
    with pytest.raises(PortError, match=r"clips of 80x80 .*64x64"):
        vqa.run({"video": torch.zeros(1, 3, 9, 80, 80), "question": question}, seed=0)


def test_summarizer_finds_the_same_key_frames_and_keeps_the_frames_it_was_given(summarize: Pipeline) -> None:
    small = summarize.run({"video": batch(scene())}, seed=0)
    big = summarize.run({"video": batch(enlarged(scene(), 4))}, seed=0)
    assert big["summary"] == small["summary"] and torch.equal(big["frames"], small["frames"])
    assert big["images"].shape[-2:] == (256, 256)  # the key frames as given, not downscaled
    with pytest.raises(PortError, match=r"clips of 72x72 .*64x64"):
        summarize.run({"video": torch.zeros(1, 3, 5, 72, 72)}, seed=0)


def test_sora_caption_of_a_scale_4_clip_and_of_an_odd_size(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_video(enlarged(scene(), 4), tmp_path / "big.mp4")
    assert main(["caption", str(tmp_path / "big.mp4")]) == 0
    assert "red square moving right" in capsys.readouterr().out.lower()
    odd = np.zeros((9, 100, 100, 3), dtype=np.uint8)
    write_video(odd, tmp_path / "odd.mp4")
    assert main(["caption", str(tmp_path / "odd.mp4")]) == 1
    err = capsys.readouterr().err
    assert "clips of 100x100 are not at the scale this captioner was trained at: 64x64" in err
    assert "Traceback" not in err


def test_a_trained_size_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="trained_size"):
        registry.create("sora-understand:latent-captioner", trained_size=[0, 64])
