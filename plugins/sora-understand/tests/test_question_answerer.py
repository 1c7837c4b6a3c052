"""question-answerer through the vqa template: answers in words about a drawn clip, and its errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sora_core.errors import PortError
from sora_core.pipeline import Pipeline


def two_objects() -> torch.Tensor:
    """(1, 3, 9, 64, 64): a large red square moving right above a large blue circle sitting still, on black."""
    frames = np.full((9, 64, 64, 3), 8, dtype=np.uint8)
    rows, columns = np.mgrid[0:64, 0:64]
    circle = (rows - 46) ** 2 + (columns - 40) ** 2 <= 9**2
    for t in range(9):
        frames[t, 8:26, 6 + 3 * t : 24 + 3 * t] = (220, 40, 40)
        frames[t][circle] = (50, 90, 235)
    return torch.from_numpy(frames.astype(np.float32) / 127.5 - 1).permute(3, 0, 1, 2)[None]


@pytest.fixture(scope="module")
def vqa() -> Pipeline:
    return Pipeline.from_template("vqa", seed=0)


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("what colour is the square?", "red"),
        ("What is the shape of the blue object?", "circle"),
        ("which way is the red square moving?", "moving right"),
        ("what is the circle doing?", "sitting still"),
        ("how many objects are there?", "two"),
        ("how many triangles are there?", "zero"),
        ("is there a blue ball?", "yes"),
        ("is there a green triangle?", "no"),
        ("what colour is the triangle?", "there is no triangle"),
    ],
)
def test_answers_in_words(vqa: Pipeline, question: str, answer: str) -> None:
    assert vqa.run({"video": two_objects(), "question": [question]}, seed=0)["answer"] == [answer]


def test_one_question_per_clip_and_none_empty(vqa: Pipeline) -> None:
    video = two_objects().expand(2, -1, -1, -1, -1)
    answers = vqa.run({"video": video, "question": ["how many circles?", "is there a red square?"]}, seed=0)
    assert answers["answer"] == ["one", "yes"]
    with pytest.raises(PortError, match="question 0 is empty"):
        vqa.run({"video": two_objects(), "question": ["  "]}, seed=0)
    with pytest.raises(PortError, match=r"1 question\(s\) for 2 clip\(s\)"):
        vqa.run({"video": video, "question": ["how many circles?"]}, seed=0)
