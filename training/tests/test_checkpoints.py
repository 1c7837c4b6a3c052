"""Checkpoints: an interrupted and resumed run takes exactly the steps of an uninterrupted one; damage is reported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from sora_core import registry
from training.checkpoints import CheckpointError, latest_checkpoint, load_checkpoint, save_checkpoint
from training.logging_utils import LossLog
from training.schedule import set_learning_rate, warmup_cosine

TINY = {"base_channels": 8, "latent_channels": 4, "temporal_compression": 2, "spatial_compression": 2}


def _models(seed: int) -> dict[str, Any]:
    torch.manual_seed(seed)
    return {
        "encoder": registry.create("sora-vae:causal-vae-encoder", **TINY),
        "decoder": registry.create("sora-vae:causal-vae-decoder", **TINY),
    }


def _optimizer(models: dict[str, Any]) -> torch.optim.AdamW:
    params = [p for m in models.values() for p in m.parameters()]
    return torch.optim.AdamW(params, lr=1e-2, betas=(0.9, 0.99), weight_decay=1e-4)


def _step(models: dict[str, Any], optimizer: torch.optim.Optimizer, step: int) -> None:
    set_learning_rate(optimizer, warmup_cosine(step, 6, 1e-2, 2))
    video = torch.rand(2, 3, 3, 8, 8) * 2 - 1  # drawn from the global RNG, which the checkpoint restores
    latent = models["encoder"](video=video)["latent"]
    loss = (models["decoder"](latent=latent)["video"] - video).abs().mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def _parameters(models: dict[str, Any]) -> list[torch.Tensor]:
    return [p.detach().clone() for m in models.values() for p in m.parameters()]


def test_resuming_takes_the_same_steps_as_an_uninterrupted_run(tmp_path: Path) -> None:
    models = _models(0)
    optimizer = _optimizer(models)
    for step in range(4):
        _step(models, optimizer, step)
    expected = _parameters(models)

    models = _models(0)
    optimizer = _optimizer(models)
    for step in range(2):
        _step(models, optimizer, step)
    save_checkpoint(tmp_path, 2, models, optimizer, extra={"note": "half way"})
    torch.manual_seed(123)  # anything the interrupted process did afterwards is forgotten

    resumed = _models(7)  # other initial weights: they must all be overwritten
    optimizer = _optimizer(resumed)
    state = load_checkpoint(latest_checkpoint(tmp_path), resumed, optimizer)
    assert state.step == 2 and state.extra == {"note": "half way"}
    for step in range(state.step, 4):
        _step(resumed, optimizer, step)
    got = _parameters(resumed)
    assert all(torch.equal(a, b) for a, b in zip(expected, got, strict=True))


def test_only_the_newest_checkpoints_are_kept_and_latest_points_at_the_last(tmp_path: Path) -> None:
    models = _models(0)
    optimizer = _optimizer(models)
    for step in (1, 2, 3):
        save_checkpoint(tmp_path, step, models, optimizer, keep=2)
    assert sorted(p.name for p in tmp_path.glob("step-*")) == ["step-0000002", "step-0000003"]
    assert latest_checkpoint(tmp_path) == tmp_path / "step-0000003"
    assert not list(tmp_path.glob(".*tmp"))
    assert not list(tmp_path.rglob("*.pt")) and not list(tmp_path.rglob("*.pkl"))


def test_no_checkpoint_yet_gives_none(tmp_path: Path) -> None:
    assert latest_checkpoint(tmp_path / "nothing") is None


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    models = _models(0)
    optimizer = _optimizer(models)
    _step(models, optimizer, 0)
    return save_checkpoint(tmp_path, 1, models, optimizer)


def _load(path: Path) -> None:
    models = _models(0)
    load_checkpoint(path, models, _optimizer(models))


def test_a_corrupted_training_state_is_refused_by_name(saved: Path) -> None:
    tensors = saved / "training.safetensors"
    data = bytearray(tensors.read_bytes())
    data[-5] ^= 0xFF
    tensors.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"training\.safetensors is corrupted"):
        _load(saved)


def test_corrupted_model_weights_are_refused_by_name(saved: Path) -> None:
    weights = saved / "models" / "decoder" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match=r"model 'decoder' cannot be loaded"):
        _load(saved)


def test_a_checkpoint_without_its_state_file_is_incomplete(saved: Path) -> None:
    (saved / "training.json").unlink()
    with pytest.raises(CheckpointError, match="incomplete"):
        _load(saved)


def test_a_checkpoint_of_other_models_is_refused(saved: Path) -> None:
    torch.manual_seed(0)
    other = {"encoder": registry.create("sora-vae:causal-vae-encoder", **TINY)}
    with pytest.raises(CheckpointError, match="holds models"):
        load_checkpoint(saved, other)


def test_a_broken_pointer_is_reported(tmp_path: Path) -> None:
    (tmp_path / "latest.json").write_text(json.dumps({"path": "step-0000009"}))
    with pytest.raises(CheckpointError, match="does not exist"):
        latest_checkpoint(tmp_path)


def test_the_loss_log_drops_lines_past_the_resumed_step(tmp_path: Path) -> None:
    log = LossLog(tmp_path / "log.jsonl")
    for step in (10, 20, 30):
        log.write(step, loss=1.0 / step)
    LossLog(tmp_path / "log.jsonl", resume_step=20).write(30, loss=0.5)
    records = LossLog.read(tmp_path / "log.jsonl")
    assert [r["step"] for r in records] == [10, 20, 30] and records[-1]["loss"] == 0.5
