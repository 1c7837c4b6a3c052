"""spacetime-patchifier: exact round trips for any divisible size, 3D positions, clear errors."""

from __future__ import annotations

import pytest
import torch

from sora_core import registry
from sora_core.errors import ConfigError, PortError

NAME = "sora-dit:spacetime-patchifier"


@pytest.mark.parametrize(
    ("patch", "shape"),
    [
        ((1, 2, 2), (2, 8, 3, 16, 16)),  # the default: a 9-frame 64x64 clip's latent
        ((1, 2, 2), (1, 8, 1, 4, 12)),  # one frame, wide (3:1)
        ((1, 2, 2), (3, 8, 5, 10, 6)),  # tall, odd frame count
        ((2, 2, 2), (2, 8, 4, 8, 8)),  # patches over time too
        ((1, 4, 2), (1, 8, 2, 12, 6)),  # non-square patches
        ((3, 1, 1), (2, 8, 6, 2, 3)),
    ],
)
def test_round_trip_is_exact(patch: tuple[int, int, int], shape: tuple[int, ...]) -> None:
    pt, ph, pw = patch
    patchifier = registry.create(NAME, patch_t=pt, patch_h=ph, patch_w=pw, channels=shape[1])
    latent = torch.randn(shape)
    out = patchifier(latent=latent)
    b, c, t, h, w = shape
    count = (t // pt) * (h // ph) * (w // pw)
    assert out["tokens"].shape == (b, count, c * pt * ph * pw)
    assert out["positions"].shape == (b, count, 3) and out["positions"].dtype == torch.float32
    assert torch.equal(patchifier.unpatchify(out["tokens"], out["positions"], shape), latent)
    assert torch.equal(patchifier.unpatchify(out["tokens"], None, shape), latent)


def test_positions_are_patch_indices_and_tokens_hold_their_patch() -> None:
    patchifier = registry.create(NAME, channels=2)
    latent = torch.randn(1, 2, 3, 4, 6)
    out = patchifier(latent=latent)
    positions, tokens = out["positions"][0], out["tokens"][0]
    assert positions[0].tolist() == [0, 0, 0] and positions[-1].tolist() == [2, 1, 2]
    assert positions[1].tolist() == [0, 0, 1]  # width varies fastest
    for index in (0, 7, len(tokens) - 1):
        t, h, w = (int(v) for v in positions[index])
        patch = latent[0, :, t, 2 * h : 2 * h + 2, 2 * w : 2 * w + 2]
        assert torch.equal(tokens[index], patch.reshape(-1))


def test_unpatchify_places_tokens_by_position_in_any_order() -> None:
    patchifier = registry.create(NAME)
    latent = torch.randn(2, 8, 3, 6, 4)
    out = patchifier(latent=latent)
    order = torch.randperm(out["tokens"].shape[1])
    restored = patchifier.unpatchify(out["tokens"][:, order], out["positions"][:, order], latent.shape)
    assert torch.equal(restored, latent)


def test_it_is_differentiable_and_weightless() -> None:
    patchifier = registry.create(NAME)
    assert not list(patchifier.parameters())
    latent = torch.randn(1, 8, 2, 4, 4, requires_grad=True)
    out = patchifier(latent=latent)
    patchifier.unpatchify(out["tokens"] * 2, out["positions"], latent.shape).sum().backward()
    assert latent.grad is not None and torch.equal(latent.grad, torch.full_like(latent, 2.0))


@pytest.mark.parametrize(
    ("shape", "words"),
    [
        ((1, 8, 3, 15, 16), ["height (h) = 15", "dimension 3", "patch_h=2"]),
        ((1, 8, 3, 16, 7), ["width (w) = 7", "dimension 4", "patch_w=2"]),
        ((1, 4, 3, 16, 16), ["4 channels", "channels=8"]),
        ((8, 3, 16, 16), ["rank 4", "(B, c, t, h, w)"]),
    ],
)
def test_sizes_that_do_not_fit_are_refused_naming_the_dimension(shape: tuple[int, ...], words: list[str]) -> None:
    patchifier = registry.create(NAME)
    with pytest.raises(PortError) as caught:
        patchifier(latent=torch.zeros(shape))
    for word in words:
        assert word in caught.value.message
    assert "sora-dit:spacetime-patchifier" in caught.value.message


def test_frames_not_divisible_by_patch_t() -> None:
    patchifier = registry.create(NAME, patch_t=2)
    with pytest.raises(PortError, match=r"frames \(t\) = 3 \(dimension 2\) is not divisible by patch_t=2"):
        patchifier(latent=torch.zeros(1, 8, 3, 4, 4))


def test_unpatchify_refuses_tokens_or_positions_of_another_shape() -> None:
    patchifier = registry.create(NAME)
    out = patchifier(latent=torch.zeros(1, 8, 2, 4, 4))
    with pytest.raises(PortError, match=r"tokens have shape \(1, 8, 32\), but a latent of shape \(1, 8, 2, 4, 6\)"):
        patchifier.unpatchify(out["tokens"], out["positions"], (1, 8, 2, 4, 6))
    with pytest.raises(PortError, match="positions have shape"):
        patchifier.unpatchify(out["tokens"], out["positions"][:, :3], (1, 8, 2, 4, 4))
    with pytest.raises(PortError, match="outside the 2x2x2 patch grid"):
        patchifier.unpatchify(out["tokens"], out["positions"] + 5, (1, 8, 2, 4, 4))


def test_config_is_validated() -> None:
    with pytest.raises(ConfigError, match="patch_h"):
        registry.create(NAME, patch_h=0)
