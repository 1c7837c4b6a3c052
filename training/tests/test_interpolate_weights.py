"""interpolate_weights: the weights between two denoisers of one config, and refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sora_core import registry
from sora_core.errors import SoraError
from training.interpolate_weights import interpolate, main

TINY = {"hidden_size": 32, "depth": 1, "heads": 2, "mlp_ratio": 2.0, "zero_init": False}


def _saved(root: Path, seed: int, **config: object) -> Path:
    torch.manual_seed(seed)
    registry.create("sora-dit:dit-denoiser", **{**TINY, **config}).save_pretrained(root)
    return root


def test_alpha_weighs_the_two_denoisers(tmp_path: Path) -> None:
    first, second = _saved(tmp_path / "a", 0), _saved(tmp_path / "b", 1)
    a = registry.load("sora-dit:dit-denoiser", weights=first).state_dict()
    b = registry.load("sora-dit:dit-denoiser", weights=second).state_dict()
    for alpha in (0.0, 0.25, 1.0):
        mixed = interpolate(first, second, alpha).state_dict()
        for name in a:
            assert torch.allclose(mixed[name], (1 - alpha) * a[name] + alpha * b[name], atol=1e-6), name


def test_the_written_result_loads_in_the_pipeline_registry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = _saved(tmp_path / "a", 0), _saved(tmp_path / "b", 1)
    main(["--first", str(first), "--second", str(second), "--alpha", "0.5", "--out", str(tmp_path / "mix")])
    assert "wrote" in capsys.readouterr().out
    loaded = registry.load("sora-dit:dit-denoiser", weights=tmp_path / "mix")
    assert torch.equal(
        loaded.state_dict()["patch_embed.weight"], interpolate(first, second, 0.5).state_dict()["patch_embed.weight"]
    )


def test_other_configs_or_alpha_out_of_range_are_refused(tmp_path: Path) -> None:
    first, other = _saved(tmp_path / "a", 0), _saved(tmp_path / "wide", 1, hidden_size=64)
    with pytest.raises(SoraError, match="hidden_size"):
        interpolate(first, other, 0.5)
    with pytest.raises(SoraError, match="outside"):
        interpolate(first, first, 1.5)
    with pytest.raises(SystemExit, match="hidden_size"):
        main(["--first", str(first), "--second", str(other), "--out", str(tmp_path / "never")])
    assert not (tmp_path / "never").exists()
