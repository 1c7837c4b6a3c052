"""keyframe-summarizer through the summarize template: the frames where things change, and a summary."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sora_core.errors import PortError
from sora_core.pipeline import Pipeline


def clip(path: list[int], colour: tuple[int, int, int] = (220, 40, 40)) -> torch.Tensor:
    """(1, 3, T, 64, 64): a large square of ``colour`` on black whose left edge is at ``path[t]`` in frame t."""
    frames = np.full((len(path), 64, 64, 3), 8, dtype=np.uint8)
    for t, left in enumerate(path):
        frames[t, 20:38, max(left, 0) : max(left + 18, 0)] = colour
    return torch.from_numpy(frames.astype(np.float32) / 127.5 - 1).permute(3, 0, 1, 2)[None]


@pytest.fixture(scope="module")
def summarize() -> Pipeline:
    return Pipeline.from_template("summarize", seed=0)


def test_a_stop_is_a_key_frame(summarize: Pipeline) -> None:
    path = [4 + 3 * min(t, 8) for t in range(17)]  # moves right for 8 frames, then stays
    out = summarize.run({"video": clip(path)}, seed=0)
    frames = [int(f) for f in out["frames"][0] if f >= 0]
    assert any(abs(f - 8) <= 1 for f in frames), (frames, out["summary"])
    assert "the red square stops" in out["summary"][0]
    k = frames.index(next(f for f in frames if abs(f - 8) <= 1))
    assert torch.equal(out["images"][0, k], clip(path)[0, :, frames[k]])


def test_an_object_entering_from_the_edge_and_a_turn(summarize: Pipeline) -> None:
    entering = [-18 + 4 * min(t, 9) for t in range(17)]  # starts outside the left edge
    out = summarize.run({"video": clip(entering, (50, 90, 235))}, seed=0)
    assert "the blue square enters" in out["summary"][0], out["summary"]
    back = [6 + 4 * t if t <= 8 else 38 - 3 * (t - 8) for t in range(17)]  # right, then back left from frame 8
    out = summarize.run({"video": clip(back)}, seed=0)
    assert "turns" in out["summary"][0] and any(abs(int(f) - 8) <= 1 for f in out["frames"][0]), out


def test_nothing_changes_and_bad_clips(summarize: Pipeline) -> None:
    out = summarize.run({"video": clip([20] * 9)}, seed=0)
    assert out["summary"] == ["nothing enters, leaves, starts, stops or turns"]
    assert out["frames"].shape == (1, 0)
    with pytest.raises(PortError, match="T >= 2"):
        summarize.run({"video": clip([20])}, seed=0)
