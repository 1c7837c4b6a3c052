"""The VAE stage's extra loss terms."""

from __future__ import annotations

import torch

from training.vae_objective import foreground_loss, foreground_mask


def _clip() -> torch.Tensor:
    video = torch.full((1, 3, 2, 8, 8), -0.8)
    video[:, 0, :, 2:4, 2:4] = 0.9  # a red 2x2 object on a dark background
    return video


def test_the_foreground_mask_marks_object_pixels_only() -> None:
    mask = foreground_mask(_clip())
    assert mask.shape == (1, 1, 2, 8, 8)
    assert mask.sum() == 2 * 4
    assert mask[0, 0, 0, 2:4, 2:4].eq(1).all()


def test_the_foreground_loss_averages_over_object_pixels() -> None:
    video = _clip()
    wrong_object = video.clone()
    wrong_object[:, 1, :, 2:4, 2:4] = 0.9  # red turned yellow: 1.7 error in one of three channels
    expected = (1.7 + 1.7**2) / 3
    torch.testing.assert_close(foreground_loss(video, wrong_object), torch.tensor(expected))
    wrong_background = video.clone()
    wrong_background[:, :, :, 6:, 6:] = 0.0
    assert foreground_loss(video, wrong_background) == 0


def test_a_clip_of_pure_background_has_no_foreground_loss() -> None:
    video = torch.full((1, 3, 2, 8, 8), -0.8)
    assert foreground_loss(video, video + 0.5) == 0
