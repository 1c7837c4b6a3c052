"""dit-denoiser: zero-initialised velocity, any divisible size, composed particles swapped by name, errors."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from sora_core import registry
from sora_core.errors import ConfigError, PortError
from sora_core.interfaces import Denoiser

NAME = "sora-dit:dit-denoiser"
SMALL = {"hidden_size": 32, "depth": 2, "heads": 2}


def create(**config: Any) -> torch.nn.Module:
    torch.manual_seed(0)
    return registry.create(NAME, **{**SMALL, **config}).eval()


def inputs(shape: tuple[int, ...] = (2, 8, 3, 4, 6), length: int = 5, dim: int = 256) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return {
        "latent": torch.randn(shape, generator=generator),
        "timestep": torch.rand(shape[0], generator=generator),
        "condition": torch.randn(shape[0], length, dim, generator=generator),
        "condition_mask": torch.ones(shape[0], length, dtype=torch.bool),
    }


def test_ports_follow_the_config() -> None:
    denoiser = create(text_dim=384, text_space="text/minilm-l6@1", latent_channels=4, latent_space="latent/x@2")
    assert isinstance(denoiser, Denoiser) and denoiser.prediction_type == "velocity"
    ports = {k: str(v) for k, v in denoiser.input_ports().items()}
    assert ports == {
        "latent": "float32[B c=4 t h w] @ latent/x@2",
        "timestep": "float32[B]",
        "condition": "float32[B L D=384] @ text/minilm-l6@1",
        "condition_mask": "bool[B L]",
    }
    assert str(denoiser.output_ports()["prediction"]) == "float32[B c=4 t h w]"


def test_default_size_and_composition() -> None:
    torch.manual_seed(0)
    denoiser = registry.create(NAME)
    assert 5_000_000 < sum(p.numel() for p in denoiser.parameters()) < 7_000_000
    assert denoiser.patchifier.registered_name == "sora-dit:spacetime-patchifier"
    assert len(denoiser.blocks) == 4
    assert {b.cross_attention.registered_name for b in denoiser.blocks} == {"sora-dit:multihead-cross-attention"}
    shared = registry.create(NAME, shared_modulation=True)
    assert sum(p.numel() for p in shared.parameters()) < 5_100_000


def test_a_fresh_denoiser_predicts_zero_velocity() -> None:
    out = create()(**inputs())["prediction"]
    assert out.shape == (2, 8, 3, 4, 6) and torch.equal(out, torch.zeros_like(out))
    assert create(zero_init=False)(**inputs())["prediction"].abs().sum() > 0


@pytest.mark.parametrize(
    ("shape", "patch"),
    [
        ((1, 8, 1, 2, 2), (1, 2, 2)),  # a single patch
        ((2, 8, 3, 16, 16), (1, 2, 2)),  # 9 frames at 64x64 through the VAE
        ((1, 8, 5, 4, 12), (1, 2, 2)),  # wide
        ((3, 8, 2, 10, 4), (1, 2, 2)),  # tall
        ((1, 8, 4, 8, 8), (2, 4, 4)),
    ],
)
def test_any_divisible_size_works(shape: tuple[int, ...], patch: tuple[int, int, int]) -> None:
    pt, ph, pw = patch
    denoiser = create(zero_init=False, patch_t=pt, patch_h=ph, patch_w=pw)
    out = denoiser(**inputs(shape, length=3))["prediction"]
    assert out.shape == shape and torch.isfinite(out).all()


def test_outputs_depend_on_time_text_mask_and_position() -> None:
    denoiser = create(zero_init=False)
    given = inputs()
    with torch.no_grad():
        base = denoiser(**given)["prediction"]
        for change in (
            {"timestep": given["timestep"] + 0.3},
            {"condition": torch.randn_like(given["condition"])},
            {"condition_mask": torch.tensor([[True, True, False, False, False]] * 2)},
        ):
            assert not torch.allclose(base, denoiser(**{**given, **change})["prediction"])
        # the same patch contents elsewhere in the frame get another prediction (positions matter)
        flat = {**given, "latent": torch.zeros(2, 8, 3, 4, 6)}
        out = denoiser(**flat)["prediction"]
        assert not torch.allclose(out[:, :, 0, :2, :2], out[:, :, 2, 2:, 4:])


def test_a_scalar_timestep_is_broadcast() -> None:
    denoiser = create(zero_init=False)
    given = inputs()
    with torch.no_grad():
        one = denoiser(**{**given, "timestep": 0.25})["prediction"]
        many = denoiser(**{**given, "timestep": torch.full((2,), 0.25)})["prediction"]
    torch.testing.assert_close(one, many)


@pytest.mark.parametrize(
    "attention", ["sora-dit:gated-cross-attention", "sora-dit:linear-cross-attention", "linear-cross-attention"]
)
def test_the_cross_attention_is_swapped_by_name(attention: str) -> None:
    swapped = create(zero_init=False, cross_attention=attention)
    assert {b.cross_attention.registered_name for b in swapped.blocks} == {"sora-dit:" + attention.split(":")[-1]}
    assert {type(b.cross_attention).__name__ for b in swapped.blocks} != {"MultiheadCrossAttention"}
    with torch.no_grad():
        out = swapped(**inputs())["prediction"]
        default = create(zero_init=False)(**inputs())["prediction"]
    assert torch.isfinite(out).all() and not torch.allclose(out, default)


def test_weights_round_trip_with_a_swapped_attention(tmp_path: Any) -> None:
    denoiser = create(zero_init=False, cross_attention="sora-dit:linear-cross-attention")
    denoiser.save_pretrained(tmp_path / "dit")
    again = registry.load(NAME, weights=tmp_path / "dit")
    assert again.config == denoiser.config
    with torch.no_grad():
        torch.testing.assert_close(again(**inputs())["prediction"], denoiser(**inputs())["prediction"], rtol=0, atol=0)


def test_unknown_or_wrong_kind_particles_are_refused_naming_the_field() -> None:
    with pytest.raises(ConfigError) as caught:
        create(cross_attention="sora-dit:multihead-cross-atention")
    assert "config field 'cross_attention' = 'sora-dit:multihead-cross-atention'" in caught.value.message
    assert "sora-dit:multihead-cross-attention" in (caught.value.hint or "")
    with pytest.raises(ConfigError, match="'cross_attention' = 'sora-dit:spacetime-patchifier' is a patchifier"):
        create(cross_attention="sora-dit:spacetime-patchifier")
    with pytest.raises(ConfigError, match="'patchifier' = 'sora-dit:rectified-flow-euler' is a scheduler"):
        create(patchifier="sora-dit:rectified-flow-euler")
    with pytest.raises(ConfigError, match="'cross_attention' = 'sora-seed:additive-attention' cannot be built with"):
        create(cross_attention="sora-seed:additive-attention")  # no 'heads' option: it cannot be built alike


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"hidden_size": 30, "heads": 4}, "hidden_size=30 is not a multiple of heads=4"),
        ({"hidden_size": 33, "heads": 3}, "must be even"),
        ({"text_space": "Not A Space"}, "text_space"),
        ({"depth": 0}, "depth"),
    ],
)
def test_bad_configs_are_refused(config: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        create(**config)


def test_a_latent_that_does_not_fit_the_patches_is_refused() -> None:
    with pytest.raises(PortError, match=r"height \(h\) = 5 \(dimension 3\) is not divisible by patch_h=2"):
        create()(**inputs((1, 8, 3, 5, 6)))


def test_every_parameter_learns_after_a_few_steps() -> None:
    """adaLN-zero starts with zero gates, yet gradients reach every layer once the gates move."""
    from sora_dit.losses import training_loss

    denoiser = create().train()
    optimiser = torch.optim.SGD(denoiser.parameters(), lr=0.05)
    given = inputs()
    for _ in range(3):
        optimiser.zero_grad()
        training_loss(denoiser, given["latent"], given["condition"], given["condition_mask"]).backward()
        optimiser.step()
    silent = [n for n, p in denoiser.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert silent == []
