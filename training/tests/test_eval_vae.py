"""eval_vae at other lengths and sizes: ``--size`` parsing and held-out clips drawn at that size and aspect."""

from __future__ import annotations

import argparse
import re

import pytest

from training.data import held_out_scenes
from training.eval_vae import evaluate, parse_size
from training.vae_metrics import blur_baseline


def test_a_size_is_frames_height_width() -> None:
    assert parse_size("9x64x64") == (9, 64, 64)
    assert parse_size("17X96x64") == (17, 96, 64)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("9x64", "write FRAMESxHEIGHTxWIDTH"),
        ("9x64xwide", "write FRAMESxHEIGHTxWIDTH"),
        ("10x64x64", "frames must be 1 + k * 4"),
        ("9x66x64", "multiples of 4, at least 16"),
        ("9x64x8", "multiples of 4, at least 16"),
    ],
)
def test_a_size_the_vae_cannot_encode_is_refused(text: str, words: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=re.escape(words)):
        parse_size(text)


def test_held_out_scenes_are_laid_out_for_the_aspect_asked_for() -> None:
    square, wide = held_out_scenes(3), held_out_scenes(3, aspect=1.5)
    assert [s.aspect for s in square] == [1.0] * 3 and [s.aspect for s in wide] == [1.5] * 3


def test_clips_are_evaluated_at_the_size_asked_for() -> None:
    figures, first = evaluate(blur_baseline, clips=2, size=(5, 32, 48))
    assert first.shape == (2, 3, 5, 32, 48) and len(figures) == 2
