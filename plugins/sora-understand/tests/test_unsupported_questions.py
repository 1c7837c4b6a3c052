"""Questions the question answerer cannot answer are refused, not answered as the nearest of its five kinds
("what is left of the square?" was answered "triangle")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sora_core.cli.main import main
from sora_core.errors import PortError
from sora_core.pipeline import Pipeline
from sora_core.video_io import to_video, write_video


def two_objects() -> np.ndarray:
    """``(9, 64, 64, 3)``: a large red square moving right above a large blue circle sitting still, on black."""
    frames = np.full((9, 64, 64, 3), 8, dtype=np.uint8)
    rows, columns = np.mgrid[0:64, 0:64]
    circle = (rows - 46) ** 2 + (columns - 40) ** 2 <= 9**2
    for t in range(9):
        frames[t, 8:26, 6 + 3 * t : 24 + 3 * t] = (220, 40, 40)
        frames[t][circle] = (50, 90, 235)
    return frames


@pytest.fixture(scope="module")
def vqa() -> Pipeline:
    return Pipeline.from_template("vqa", seed=0)


def ask(vqa: Pipeline, *questions: str) -> list[str]:
    video = to_video(two_objects())[None].expand(len(questions), -1, -1, -1, -1)
    return vqa.run({"video": video, "question": list(questions)}, seed=0)["answer"]


@pytest.mark.parametrize(
    ("question", "what", "words"),
    [
        ("what is left of the square?", "positions and relations between objects", "left of"),
        ("Is the circle to the right of the square?", "positions and relations between objects", "right of"),
        ("what is above the blue circle?", "positions and relations between objects", "above"),
        ("which shape is next to the circle?", "positions and relations between objects", "next to"),
        ("where is the circle?", "positions and relations between objects", "where is"),
        ("what is in the top corner?", "positions and relations between objects", "in the top"),
        ("how big is the square?", "sizes", "how big"),
        ("what size is the circle?", "sizes", "what size"),
        ("is the square larger than the circle?", "sizes", "larger"),
        ("how fast is the square moving?", "speed", "how fast"),
        ("when does the square stop?", "time and order", "when"),
        ("which object moves first?", "time and order", "first"),
        ("why is the circle blue?", "reasons and people", "why"),
    ],
)
def test_unsupported_kinds_are_refused_naming_what_they_ask(
    vqa: Pipeline, question: str, what: str, words: str
) -> None:
    with pytest.raises(PortError) as refused:
        ask(vqa, question)
    message = str(refused.value)
    assert f"question 0 {question!r} asks about {what} ({words!r})" in message
    assert "cannot answer" in message and "colour, shape or motion" in message
    assert "what colour is the circle?" in (refused.value.hint or "")


def test_one_unsupported_question_refuses_the_batch_and_names_its_index(vqa: Pipeline) -> None:
    with pytest.raises(PortError, match=r"question 1 'what is left of the square\?' asks about positions"):
        ask(vqa, "what colour is the square?", "what is left of the square?")


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("what colour is the square?", "red"),
        ("where is the red square going?", "moving right"),  # "where is ... going" asks for a motion
        ("where does the square move to?", "moving right"),
        ("is the square moving to the right?", "moving right"),  # "to the right" is a motion, not "right of"
        ("which shape is moving right?", "square"),
        ("how many objects are there?", "two"),
        ("is there a blue ball?", "yes"),
    ],
)
def test_questions_of_its_kinds_are_still_answered(vqa: Pipeline, question: str, answer: str) -> None:
    assert ask(vqa, question) == [answer]


def test_sora_ask_refuses_with_a_message_and_status_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_video(two_objects(), tmp_path / "clip.mp4")
    assert main(["ask", str(tmp_path / "clip.mp4"), "what is left of the square?"]) == 1
    err = capsys.readouterr().err
    assert "asks about positions and relations between objects ('left of')" in err and "Traceback" not in err
    assert main(["ask", str(tmp_path / "clip.mp4"), "what colour is the square?"]) == 0
    assert capsys.readouterr().out.strip().lower() == "red"


def test_the_refusal_comes_before_any_clip_is_encoded(vqa: Pipeline) -> None:
    qa = vqa.nodes["qa"]
    with pytest.raises(PortError, match="asks about sizes"):
        qa(video=torch.zeros(1, 3, 9, 64, 64), question=["what size is it?"])
    assert qa.unsupported("what colour is the circle?") is None
