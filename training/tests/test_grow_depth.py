"""grow_depth: one more block that starts as the identity, trainable, and refusals naming what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sora_core import registry
from sora_core.errors import SoraError
from training.grow_depth import grow, main

TINY = {"hidden_size": 32, "depth": 3, "heads": 2, "mlp_ratio": 2.0, "zero_init": False, "shared_modulation": True}


def _saved(root: Path, **config: object) -> Path:
    torch.manual_seed(0)
    registry.create("sora-dit:dit-denoiser", **{**TINY, **config}).save_pretrained(root)
    return root


def _predict(denoiser: torch.nn.Module) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    latent = torch.randn(2, 8, 2, 4, 4, generator=generator)
    condition = torch.randn(2, 5, 256, generator=generator)
    with torch.no_grad():
        return denoiser(latent=latent, timestep=torch.tensor([0.2, 0.9]), condition=condition)["prediction"]


@pytest.mark.parametrize("at", [None, 1, 3])
def test_the_grown_denoiser_predicts_what_the_original_did(tmp_path: Path, at: int | None) -> None:
    source = _saved(tmp_path / "a")
    original = registry.load("sora-dit:dit-denoiser", weights=source).eval()
    grown = grow(source, at)
    assert grown.config.depth == 4 and len(grown.blocks) == 4
    torch.testing.assert_close(_predict(grown), _predict(original), rtol=0, atol=1e-6)
    inserted = grown.blocks[1 if at is None else at]
    assert not inserted.mlp[2].weight.any() and not inserted.attn.proj.weight.any()
    assert inserted.mlp[0].weight.any()  # copied from the block before it, not blank


def test_the_inserted_block_learns(tmp_path: Path) -> None:
    grown = grow(_saved(tmp_path / "a")).train()
    prediction = grown(
        latent=torch.randn(2, 8, 2, 4, 4), timestep=torch.tensor([0.5, 0.5]), condition=torch.randn(2, 5, 256)
    )["prediction"]
    prediction.square().mean().backward()
    assert grown.blocks[1].mlp[2].weight.grad.abs().sum() > 0
    assert grown.blocks[1].cross_attention.to_out.weight.grad.abs().sum() > 0


def test_the_written_result_loads_and_bad_positions_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _saved(tmp_path / "a")
    main(["--denoiser", str(source), "--out", str(tmp_path / "grown")])
    assert "depth 4" in capsys.readouterr().out
    assert registry.load("sora-dit:dit-denoiser", weights=tmp_path / "grown").config.depth == 4
    with pytest.raises(SoraError, match="blocks 1 to 3"):
        grow(source, 0)
    with pytest.raises(SystemExit, match="--at 7"):
        main(["--denoiser", str(source), "--at", "7", "--out", str(tmp_path / "never")])
    assert not (tmp_path / "never").exists()
    with pytest.raises(SystemExit, match="does not exist"):
        main(["--denoiser", str(tmp_path / "missing"), "--out", str(tmp_path / "never")])


def test_a_block_without_the_layers_to_zero_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A third-party cross-attention may have no ``to_out``: growing must refuse rather than change the output."""
    import training.grow_depth as module

    monkeypatch.setattr(module, "BRANCH_OUTPUTS", (*module.BRANCH_OUTPUTS, "cross_attention.to_final."))
    with pytest.raises(SoraError, match=r"no cross_attention\.to_final\. layers"):
        grow(_saved(tmp_path / "a"))
