"""The VAE's temporal and spatial layout: sizes, causality, the first frame on its own, exact inversion."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F

from sora_core import registry
from sora_core.interfaces import ModuleParticle

SMALL = {"base_channels": 8, "latent_channels": 4}


def create(name: str, **config: Any) -> ModuleParticle:
    torch.manual_seed(0)
    particle = registry.create(f"sora-vae:causal-vae-{name}", **config)
    assert isinstance(particle, ModuleParticle)
    return particle.eval()


def video(batch: int, frames: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    return torch.rand((batch, 3, frames, height, width), generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize(
    ("temporal", "spatial", "frames", "height", "width"),
    [
        (4, 4, 1, 16, 16),
        (4, 4, 9, 16, 24),
        (4, 8, 5, 32, 16),
        (2, 2, 7, 6, 10),
        (2, 8, 3, 8, 8),
        (1, 4, 4, 12, 8),
        (1, 2, 1, 2, 2),
    ],
)
def test_sizes_follow_the_layout_and_the_decoder_inverts_them(
    temporal: int, spatial: int, frames: int, height: int, width: int
) -> None:
    config = {**SMALL, "temporal_compression": temporal, "spatial_compression": spatial}
    encoder, decoder = create("encoder", **config), create("decoder", **config)
    clip = video(2, frames, height, width)
    with torch.no_grad():
        out = encoder(video=clip)
        again = decoder(latent=out["latent"])["video"]
    latent_shape = (2, 4, 1 + (frames - 1) // temporal, height // spatial, width // spatial)
    assert out["latent"].shape == latent_shape and out["logvar"].shape == latent_shape
    assert again.shape == clip.shape
    assert again.abs().max() <= 1.0 and torch.isfinite(again).all()


def test_a_single_image_round_trips_at_the_defaults() -> None:
    encoder, decoder = create("encoder"), create("decoder")
    image = video(1, 1, 64, 64)
    with torch.no_grad():
        latent = encoder(video=image)["latent"]
        again = decoder(latent=latent)["video"]
    assert latent.shape == (1, 8, 1, 16, 16)
    assert again.shape == (1, 3, 1, 64, 64)


@pytest.mark.parametrize("temporal", [1, 2, 4])
def test_the_encoder_is_causal(temporal: int) -> None:
    """Changing frame k leaves every latent frame j with j * temporal_compression < k unchanged."""
    encoder = create("encoder", **SMALL, temporal_compression=temporal, spatial_compression=4)
    frames = 1 + 3 * temporal
    clip = video(1, frames, 8, 8)
    with torch.no_grad():
        reference = encoder(video=clip)
        for k in range(1, frames):
            changed = clip.clone()
            changed[:, :, k] = -changed[:, :, k]
            out = encoder(video=changed)
            before = (k + temporal - 1) // temporal  # latent frames 0 .. before-1 see only frames < k
            for port in ("latent", "logvar"):
                torch.testing.assert_close(out[port][:, :, :before], reference[port][:, :, :before])
            assert not torch.allclose(out["latent"][:, :, before:], reference["latent"][:, :, before:])


@pytest.mark.parametrize("temporal", [2, 4])
def test_the_decoder_is_causal(temporal: int) -> None:
    """Changing latent frame j leaves every video frame before the ones it decodes to unchanged."""
    decoder = create("decoder", **SMALL, temporal_compression=temporal, spatial_compression=2)
    latent = torch.randn((1, 4, 4, 3, 3), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        reference = decoder(latent=latent)["video"]
        for j in range(1, 4):
            changed = latent.clone()
            changed[:, :, j] += 1.0
            out = decoder(latent=changed)["video"]
            first = 1 + (j - 1) * temporal  # the first frame latent frame j decodes to
            torch.testing.assert_close(out[:, :, :first], reference[:, :, :first])
            assert not torch.allclose(out[:, :, first:], reference[:, :, first:])


def test_the_first_frame_is_encoded_and_decoded_on_its_own() -> None:
    """The first latent frame of a clip equals the latent of its first frame alone, and back."""
    encoder, decoder = create("encoder", **SMALL), create("decoder", **SMALL)
    clip = video(2, 9, 16, 16)
    with torch.no_grad():
        whole = encoder(video=clip)["latent"]
        alone = encoder(video=clip[:, :, :1])["latent"]
        torch.testing.assert_close(whole[:, :, :1], alone, rtol=1e-4, atol=1e-5)
        decoded = decoder(latent=whole)["video"]
        torch.testing.assert_close(decoder(latent=whole[:, :, :1])["video"], decoded[:, :, :1], rtol=1e-4, atol=1e-5)


def test_the_default_vae_is_small() -> None:
    """The default encoder and decoder together stay under 2 M parameters (about 7 MB in float32)."""
    with torch.device("meta"):
        sizes = {name: sum(p.numel() for p in create(name).parameters()) for name in ("encoder", "decoder")}
    assert sum(sizes.values()) < 2_000_000, sizes


def test_the_conv_path_matches_torch() -> None:
    """The direct oneDNN call in CausalConv3d gives what F.conv3d gives, values and gradients."""
    from sora_vae.layers import CausalConv3d

    torch.manual_seed(0)
    conv = CausalConv3d(4, 6, stride=(2, 2, 2))
    x = torch.randn(1, 4, 5, 8, 8, requires_grad=True)
    y = conv(x)
    padded = torch.cat([x[:, :, :1], x[:, :, :1], x], dim=2)
    expected = torch.nn.functional.conv3d(padded, conv.weight, conv.bias, stride=(2, 2, 2), padding=(0, 1, 1))
    torch.testing.assert_close(y, expected)
    (grad,) = torch.autograd.grad(y.square().sum(), x)
    (expected_grad,) = torch.autograd.grad(expected.square().sum(), x)
    torch.testing.assert_close(grad, expected_grad)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_frame_group_norm_is_group_norm_on_each_frame(dtype: torch.dtype) -> None:
    from sora_vae.layers import FrameGroupNorm

    torch.manual_seed(0)
    norm = FrameGroupNorm(32)
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    x = torch.randn(2, 32, 3, 5, 7) * 3 + 2
    frames = x.transpose(1, 2).reshape(6, 32, 5, 7)
    expected = F.group_norm(frames, 8, norm.weight, norm.bias, norm.eps).reshape(2, 3, 32, 5, 7).transpose(1, 2)
    got = norm.to(dtype)(x.to(dtype))
    assert got.dtype == dtype
    tolerance = 1e-5 if dtype == torch.float32 else 5e-2
    torch.testing.assert_close(got.float(), expected, rtol=tolerance, atol=tolerance)
