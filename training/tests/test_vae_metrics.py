"""The VAE stage's figures: a perfect reconstruction scores perfectly, a recoloured one does not."""

from __future__ import annotations

import torch

from training.data import held_out_scenes, render_batch
from training.vae_metrics import blur_baseline, clip_figures, summarise


def test_a_perfect_reconstruction_has_perfect_figures() -> None:
    scenes = held_out_scenes(3)
    video = render_batch(scenes)
    figures = [clip_figures(s, v, v) for s, v in zip(scenes, video, strict=True)]
    summary = summarise(figures)
    assert summary["psnr_db"] > 100 and summary["colour_error"] < 0.01
    assert summary["evaluator_all"] == 1.0


def test_swapped_colour_channels_fail_the_evaluator_on_colour() -> None:
    scenes = held_out_scenes(4)
    video = render_batch(scenes)
    swapped = video[:, [2, 0, 1]]  # red -> green -> blue -> red: every hue changes
    summary = summarise([clip_figures(s, v, r) for s, v, r in zip(scenes, video, swapped, strict=True)])
    assert summary["colour_error"] > 50
    assert summary["evaluator_colour"] < 0.5


def test_the_blur_baseline_keeps_the_size() -> None:
    video = render_batch(held_out_scenes(1))
    assert blur_baseline(video).shape == video.shape
    assert not torch.equal(blur_baseline(video), video)
