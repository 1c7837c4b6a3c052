"""The evaluator: >= 98% agreement with clean ground truth, robust to blur and noise, right about wrong prompts."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from sora_synth.captions import PromptError
from sora_synth.degrade import DEGRADATIONS, add_noise, blur, colour_shift, downsample, temporal_blur
from sora_synth.evaluate import ATTRIBUTES, analyse, evaluate_many, score
from sora_synth.scene import render, render_tensor, sample_scene
from sora_synth.validate import REQUIRED, ground_truth, validate
from sora_synth.vocabulary import COLOURS, MOTIONS, SHAPES, ObjectAttributes

from sora_core.video_io import VideoError


@pytest.fixture(scope="module")
def heldout_clips() -> list[tuple[torch.Tensor, str]]:
    return ground_truth("heldout", 160, seed=11)


def test_clean_ground_truth_agrees_at_least_98_percent(heldout_clips: list[tuple[torch.Tensor, str]]) -> None:
    clips = heldout_clips + ground_truth("paraphrase", 40, seed=11) + ground_truth("training", 60, seed=11)
    agreement = validate(clips, {"clean": None})["clean"]
    for name in ATTRIBUTES:
        assert agreement.rate(name) >= REQUIRED, agreement.format("clean")


@pytest.mark.parametrize("condition", ["blur 1.5", "blur 1.0 + noise 0.1", "downsample 2", "temporal blur"])
def test_degraded_ground_truth_still_agrees(heldout_clips: list[tuple[torch.Tensor, str]], condition: str) -> None:
    agreement = validate(heldout_clips[:100], {condition: DEGRADATIONS[condition]})[condition]
    for name in ATTRIBUTES:
        assert agreement.rate(name) >= 0.95, agreement.format(condition)


def test_every_colour_shape_and_motion_is_recognised_blurred_and_noisy() -> None:
    rng = np.random.default_rng(1)
    cases = [ObjectAttributes(colour=c) for c in COLOURS] + [ObjectAttributes(shape=s) for s in SHAPES]
    cases += [ObjectAttributes(motion=m) for m in MOTIONS]
    for wanted in cases:
        for index in range(4):
            scene = sample_scene(rng, objects=[wanted])
            video = add_noise(blur(render_tensor(scene), 1.2), 0.06, seed=index)
            (track,) = analyse(video)
            truth = scene.attributes[0]
            assert (track.colour, track.shape, track.motion) == (truth.colour, truth.shape, truth.motion)
            if truth.size is not None:
                assert track.size == truth.size


def test_wrong_prompts_are_caught_attribute_by_attribute() -> None:
    rng = np.random.default_rng(2)
    scene = sample_scene(rng, objects=[ObjectAttributes("red", "circle", "right", "large")])
    video = render_tensor(scene)
    right = score(video, "a red circle moving right")
    assert (right.colour, right.shape, right.motion, right.count) == (True, True, True, True) and right.all
    assert score(video, "a blue circle moving right").colour is False
    assert score(video, "a red square moving right").shape is False
    assert score(video, "a red circle moving left").motion is False
    wrong_count = score(video, "a red circle moving right and a green square staying still")
    assert wrong_count.count is False and wrong_count.colour is False and wrong_count.matches[1] is None
    partial = score(video, "something red")
    assert (partial.colour, partial.shape, partial.motion, partial.count) == (True, None, None, True)
    assert partial.as_list() == [1.0, 1.0, 1.0, 1.0] and partial.as_list(0.5) == [1.0, 0.5, 0.5, 1.0]


def test_two_objects_are_matched_whatever_the_order() -> None:
    rng = np.random.default_rng(3)
    wanted = [
        ObjectAttributes("yellow", "triangle", "up", "large"),
        ObjectAttributes("cyan", "square", "still", "small"),
    ]
    video = render_tensor(sample_scene(rng, objects=wanted))
    forward = score(video, "a yellow triangle moving up and a cyan square staying still")
    backward = score(video, "a cyan block that stays still while a yellow triangle rises")
    assert forward.all and backward.all
    assert forward.matches == tuple(reversed(backward.matches))
    swapped = score(video, "a yellow square moving up and a cyan triangle staying still")
    assert swapped.shape is False and swapped.colour is True and swapped.motion is True


def test_same_colour_objects_are_told_apart() -> None:
    rng = np.random.default_rng(4)
    for _ in range(10):
        wanted = [ObjectAttributes(colour="white", shape="circle"), ObjectAttributes(colour="white", shape="square")]
        scene = sample_scene(rng, objects=wanted)
        result = score(blur(render_tensor(scene), 1.0), "a white circle and a white square")
        assert result.count and result.shape and result.colour


def test_inputs_in_every_layout_and_an_empty_video() -> None:
    scene = sample_scene(np.random.default_rng(5), count=2)
    video = render_tensor(scene)
    expected = [t.attributes for t in analyse(video)]
    assert [t.attributes for t in analyse(video.unsqueeze(0))] == expected
    assert [t.attributes for t in analyse(render(scene))] == expected
    assert [t.attributes for t in analyse(video.numpy())] == expected
    empty = torch.full((3, 9, 64, 64), -0.5)
    assert analyse(empty) == [] and score(empty, "a red circle").count is False
    with pytest.raises(VideoError, match=r"expected a video \(3, T, H, W\)"):
        analyse(torch.zeros(2, 3, 9, 64, 64))


def test_tracks_describe_the_path() -> None:
    scene = sample_scene(np.random.default_rng(6), objects=[ObjectAttributes("green", "square", "down", "small")])
    (track,) = analyse(render_tensor(scene))
    assert track.frames == tuple(range(9))
    ys = [y for _, y in track.centres]
    assert all(b > a for a, b in itertools.pairwise(ys))
    assert max(track.masses) / min(track.masses) < 1.05


def test_evaluate_many_on_a_batch(heldout_clips: list[tuple[torch.Tensor, str]]) -> None:
    videos = torch.stack([v for v, _ in heldout_clips[:6]])
    prompts = [p for _, p in heldout_clips[:6]]
    agreement = evaluate_many(videos, prompts)
    assert agreement.clips == 6 and agreement.rates()["all"] == 1.0 and not agreement.failures()
    assert "colour 100.00%" in agreement.format("batch")
    with pytest.raises(PromptError, match="6 videos but 5 prompts"):
        evaluate_many(videos, prompts[:5])


def test_an_unreadable_prompt_raises() -> None:
    video = render_tensor(sample_scene(np.random.default_rng(7)))
    with pytest.raises(PromptError, match="names no colour"):
        score(video, "lorem ipsum")


def test_degradations_keep_shape_and_range() -> None:
    video = render_tensor(sample_scene(np.random.default_rng(8)))
    batch = video.unsqueeze(0).repeat(2, 1, 1, 1, 1)
    for degrade in (
        lambda v: blur(v, 1.5),
        lambda v: add_noise(v, 0.2),
        lambda v: downsample(v, 4),
        lambda v: temporal_blur(v),
        lambda v: colour_shift(v),
    ):
        for value in (video, batch):
            out = degrade(value)
            assert out.shape == value.shape and out.dtype == torch.float32
            assert float(out.min()) >= -1.0 - 1e-6 and float(out.max()) <= 1.0 + 1e-6
    assert torch.allclose(blur(batch, 1.0)[1], blur(video, 1.0))
    with pytest.raises(VideoError, match="expected a video"):
        blur(video[0], 1.0)
