"""training.ship: trained directories become loadable default-weight folders, within the size budget."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sora_core import registry
from sora_core.errors import SoraError
from training.ship import TARGETS, ShipError, ship

TINY_VAE = {"base_channels": 8, "latent_channels": 4}
TINY_DIT = {"hidden_size": 32, "depth": 1, "heads": 2, "mlp_ratio": 2.0, "latent_channels": 4}
TINY_SCORER = {"hidden_size": 16, "depth": 1, "heads": 2, "latent_channels": 4}
TINY_CAPTIONER = {"width": 16, "dilations": [1], "latent_channels": 4}


@pytest.fixture
def runs(tmp_path: Path) -> dict[str, Path]:
    torch.manual_seed(0)
    registry.create("sora-vae:causal-vae-encoder", **TINY_VAE).save_pretrained(tmp_path / "vae/encoder")
    registry.create("sora-vae:causal-vae-decoder", **TINY_VAE).save_pretrained(tmp_path / "vae/decoder")
    registry.create("sora-dit:dit-denoiser", **TINY_DIT).save_pretrained(tmp_path / "t2v/denoiser")
    registry.create("sora-dit:latent-text-scorer", **TINY_SCORER).save_pretrained(tmp_path / "scorer/scorer")
    registry.create("sora-understand:latent-captioner", **TINY_CAPTIONER).save_pretrained(tmp_path / "cap/captioner")
    registry.create("sora-understand:question-answerer", text_dim=8).save_pretrained(tmp_path / "qa/qa")
    return {
        "vae": tmp_path / "vae",
        "t2v": tmp_path / "t2v",
        "scorer": tmp_path / "scorer",
        "captioner": tmp_path / "cap",
        "qa": tmp_path / "qa",
    }


def test_shipped_weights_load_and_equal_the_trained_ones(tmp_path: Path, runs: dict[str, Path]) -> None:
    sizes = ship(runs, root=tmp_path / "repo")
    assert set(sizes) == set(TARGETS)
    for name, (run, sub, destination) in TARGETS.items():
        trained = registry.load(name, weights=runs[run] / sub)
        shipped = registry.load(name, weights=tmp_path / "repo" / destination)
        assert shipped.config == trained.config
        for a, b in zip(trained.state_dict().values(), shipped.state_dict().values(), strict=True):
            assert torch.equal(a, b)


def test_half_width_storage_ships_about_half_the_bytes_and_loads_as_float32(
    tmp_path: Path, runs: dict[str, Path]
) -> None:
    full = ship(runs, root=tmp_path / "full")
    half = ship(runs, root=tmp_path / "half", storage_dtype="float16")
    assert sum(half.values()) < 0.6 * sum(full.values())
    budget = (sum(half.values()) + sum(full.values())) // 2  # fits only at half width
    with pytest.raises(ShipError, match="--storage-dtype float16"):
        ship(runs, root=tmp_path / "over", budget=budget)
    ship(runs, root=tmp_path / "fits", budget=budget, storage_dtype="float16")
    for name, (run, sub, destination) in TARGETS.items():
        trained = registry.load(name, weights=runs[run] / sub)
        shipped = registry.load(name, weights=tmp_path / "fits" / destination)
        for a, b in zip(trained.state_dict().values(), shipped.state_dict().values(), strict=True):
            assert b.dtype == torch.float32
            torch.testing.assert_close(b, a.half().float(), rtol=0, atol=0)


def test_over_budget_or_damaged_weights_ship_nothing(tmp_path: Path, runs: dict[str, Path]) -> None:
    with pytest.raises(ShipError, match="over the 0 MB budget"):
        ship(runs, root=tmp_path / "repo", budget=1000)
    weights = runs["t2v"] / "denoiser" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8])
    with pytest.raises(SoraError, match=r"model\.safetensors"):
        ship(runs, root=tmp_path / "repo")
    assert not (tmp_path / "repo").exists()


def test_shipping_some_runs_keeps_the_rest_and_counts_them_in_the_budget(tmp_path: Path, runs: dict[str, Path]) -> None:
    repo = tmp_path / "repo"
    sizes = ship(runs, root=repo)
    kept = sum(size for name, size in sizes.items() if name != "sora-dit:latent-text-scorer")
    only = ship({"scorer": runs["scorer"]}, root=repo)
    assert set(only) == {"sora-dit:latent-text-scorer"}
    with pytest.raises(ShipError, match="already shipped and kept"):
        ship({"scorer": runs["scorer"]}, root=repo, budget=kept + 1000)
    with pytest.raises(ShipError, match="unknown runs"):
        ship({"captions": runs["scorer"]}, root=repo)
    with pytest.raises(ShipError, match="nothing to ship"):
        ship({}, root=repo)
