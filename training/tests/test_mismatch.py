"""Mismatched captions for the scorer: each kind changes what it says, and none names a held-out combination."""

from __future__ import annotations

import numpy as np
import pytest
from sora_synth.splits import is_heldout
from sora_synth.vocabulary import ObjectAttributes

from training.mismatch import MISMATCHES, mismatch
from training.train_scorer import texts_for

RED_BALL = ObjectAttributes(colour="red", shape="circle", motion="right", size="small")
BLUE_BOX = ObjectAttributes(colour="blue", shape="square", motion="up", size="large")
GREEN_BALL = ObjectAttributes(colour="green", shape="circle", motion="down", size="small")


@pytest.mark.parametrize("objects", [(RED_BALL,), (RED_BALL, BLUE_BOX)])
def test_every_kind_changes_exactly_what_it_names(objects: tuple[ObjectAttributes, ...]) -> None:
    rng = np.random.default_rng(0)
    for kind in MISMATCHES[len(objects)]:
        for _ in range(20):
            wrong = mismatch(objects, kind, rng)
            assert wrong is not None, kind
            assert sorted(o.triple() for o in wrong) != sorted(o.triple() for o in objects)
            assert not any(is_heldout(o) for o in wrong)
            assert all(o.size is None if o.motion == "growing" else o.size in ("small", "large") for o in wrong)
            if kind in ("colour", "shape", "motion", "swap"):
                assert len(wrong) == len(objects)
                changed = {
                    field
                    for before, after in zip(objects, wrong, strict=True)
                    for field in ("colour", "shape", "motion")
                    if getattr(before, field) != getattr(after, field)
                }
                assert changed == {kind} if kind != "swap" else len(changed) == 1
            elif kind == "drop":
                assert len(wrong) == 1 and wrong[0] in objects
            else:  # add, copy
                assert len(wrong) == 2 and objects[0] in wrong
            if kind == "copy":
                assert {(o.colour, o.shape) for o in wrong} == {("red", "circle")}


def test_a_swap_of_what_two_objects_share_finds_no_mismatch_of_that_attribute() -> None:
    rng = np.random.default_rng(1)
    twins = (RED_BALL, GREEN_BALL)  # both circles: only colour or motion swaps can differ
    for _ in range(20):
        wrong = mismatch(twins, "swap", rng)
        assert wrong is not None and [o.shape for o in wrong] == ["circle", "circle"]


def test_unknown_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown mismatch 'size'"):
        mismatch((RED_BALL,), "size", np.random.default_rng(0))


def test_texts_are_the_caption_then_the_negatives() -> None:
    from sora_synth.scene import sample_scene

    scene = sample_scene(np.random.default_rng(4), p_two=1.0)
    texts = texts_for(scene, 3, np.random.default_rng(5))
    assert len(texts) == 4 and len(set(texts)) == 4
    assert texts == texts_for(scene, 3, np.random.default_rng(5))  # a pure function of the generator
