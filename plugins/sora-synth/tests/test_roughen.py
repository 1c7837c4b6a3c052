"""sora_synth.roughen: generator-like clips keep their shape, range, words and objects, and are reproducible."""

from __future__ import annotations

import numpy as np
import torch
from sora_synth.evaluate import analyse
from sora_synth.roughen import MAX_WOBBLE, RADIUS_SCALE, render_rough, reshape_scene, roughen, smudge, wobble
from sora_synth.scene import render_tensor, sample_scene


def _clip(seed: int = 4) -> torch.Tensor:
    return render_tensor(sample_scene(np.random.default_rng(seed), count=1))


def test_roughen_is_reproducible_and_stays_a_clip() -> None:
    clip = _clip()
    first = roughen(clip, np.random.default_rng(1), p=1.0)
    again = roughen(clip, np.random.default_rng(1), p=1.0)
    other = roughen(clip, np.random.default_rng(2), p=1.0)
    assert first.shape == clip.shape and first.dtype == torch.float32
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert float(first.min()) >= -1 and float(first.max()) <= 1
    assert torch.equal(roughen(clip, np.random.default_rng(1), p=1e-9), clip)


def test_a_roughened_object_keeps_its_words_and_stays_within_a_few_pixels() -> None:
    for seed in range(4):
        clip = _clip(seed)
        (clean,) = analyse(clip)
        (rough,) = analyse(roughen(clip, np.random.default_rng(seed), p=1.0))
        assert (rough.colour, rough.motion) == (clean.colour, clean.motion)
        assert np.hypot(*np.subtract(rough.centres[0], clean.centres[0])) < 2 * MAX_WOBBLE


def test_wobble_moves_pixels_by_at_most_its_amplitude_and_smudge_only_tints() -> None:
    clip = _clip()
    assert torch.allclose(wobble(clip, np.random.default_rng(0), 0.0), clip, atol=1e-5)
    moved = wobble(clip, np.random.default_rng(0), MAX_WOBBLE)
    assert not torch.allclose(moved, clip) and moved.shape == clip.shape
    tinted = smudge(clip, np.random.default_rng(0))
    assert 0 < float((tinted - clip).abs().max()) <= 2 * 0.45 + 1e-6


def test_reshaped_scenes_keep_words_and_first_frame_centres_but_scale_radius_and_travel() -> None:
    scene = sample_scene(np.random.default_rng(7), count=2)
    for seed in range(5):
        reshaped = reshape_scene(scene, np.random.default_rng(seed))
        assert reshaped.background == scene.background
        for before, after in zip(scene.objects, reshaped.objects, strict=True):
            assert (after.colour, after.shape, after.size, after.motion) == (
                before.colour,
                before.shape,
                before.size,
                before.motion,
            )
            first, moved = before.keyframes[0], after.keyframes[0]
            assert (moved.x, moved.y) == (first.x, first.y)
            low, high = RADIUS_SCALE[before.size]
            assert low <= moved.radius / first.radius <= high
            span = np.hypot(before.keyframes[-1].x - first.x, before.keyframes[-1].y - first.y)
            travel = np.hypot(after.keyframes[-1].x - moved.x, after.keyframes[-1].y - moved.y)
            assert travel <= span + 1e-9


def test_render_rough_is_a_reshaped_scene_roughened() -> None:
    scene = sample_scene(np.random.default_rng(9), count=2)
    rng = np.random.default_rng(3)
    by_hand = roughen(render_tensor(reshape_scene(scene, rng), 5, 32, 48), rng, 0.7)
    clip = render_rough(scene, np.random.default_rng(3), 0.7, frames=5, height=32, width=48)
    assert clip.shape == (3, 5, 32, 48) and torch.equal(clip, by_hand)
