"""Stage 4 (train_captioner): exact resume, what it writes, its targets and its held-out evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from sora_synth.scene import sample_scene

from sora_core import registry
from training.t2v_objective import load_vae_encoder
from training.train_captioner import CAPTIONER, evaluate, parse_args, targets, train

TINY = {"width": 16, "dilations": [1, 2], "latent_channels": 4}


def _args(out: Path, vae: Path, steps: int, *extra: str) -> list[str]:
    return [
        "--out", str(out), "--vae", str(vae), "--steps", str(steps), "--batch", "4", "--cache-clips", "8",
        "--warmup", "1", "--frames", "5", "--height", "16", "--width", "16", "--threads", "1", "--log-every", "1",
        "--eval-clips", "0", "--captioner-config", json.dumps(TINY),
        *extra,
    ]  # fmt: skip


def test_resumed_run_equals_uninterrupted_run(tmp_path: Path, vae_dir: Path) -> None:
    straight = train(parse_args(_args(tmp_path / "straight", vae_dir, 3)))
    train(parse_args(_args(tmp_path / "split", vae_dir, 2, "--checkpoint-every", "2")))
    resumed = train(parse_args(_args(tmp_path / "split", vae_dir, 3, "--resume")))
    for a, b in zip(straight.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)
    loaded = registry.load(CAPTIONER, weights=tmp_path / "split" / "captioner")
    assert loaded.config.latent_channels == 4
    log = [json.loads(line) for line in (tmp_path / "split" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3] and all(r["loss"] > 0 for r in log)


def test_roughened_clips_train_from_a_cache_of_their_own_and_resume_exactly(tmp_path: Path, vae_dir: Path) -> None:
    rough = ("--rough-rate", "0.5", "--rough-p", "1")
    straight = train(parse_args(_args(tmp_path / "straight", vae_dir, 3, *rough)))
    train(parse_args(_args(tmp_path / "split", vae_dir, 2, "--checkpoint-every", "2", *rough)))
    resumed = train(parse_args(_args(tmp_path / "split", vae_dir, 3, "--resume", *rough)))
    for a, b in zip(straight.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)
    caches = sorted(p.name for p in (tmp_path / "split").glob("latent-cache*.safetensors"))
    assert caches == ["latent-cache-rough-p1.safetensors", "latent-cache.safetensors"]
    clean = load_file(str(tmp_path / "split" / caches[1]))["latents"]
    roughened = load_file(str(tmp_path / "split" / caches[0]))["latents"]
    assert clean.shape == roughened.shape and not torch.equal(clean, roughened)
    plain = train(parse_args(_args(tmp_path / "plain", vae_dir, 3)))
    assert any(not torch.equal(a, b) for a, b in zip(plain.parameters(), straight.parameters(), strict=True))
    with pytest.raises(SystemExit):  # a changed rate is another run, not a resume
        train(parse_args(_args(tmp_path / "split", vae_dir, 4, "--resume", "--rough-rate", "0.2")))


def test_rough_options_are_checked() -> None:
    for bad in (["--rough-rate", "1.5"], ["--rough-p", "0"]):
        with pytest.raises(SystemExit):
            parse_args(["--out", "x", *bad])


def test_each_object_is_a_target_at_its_first_frame_centre() -> None:
    captioner = registry.create(CAPTIONER, **TINY)
    scene = sample_scene(np.random.default_rng(3), count=2)
    goal = targets(captioner, [scene], 4, 4)
    assert int((goal["heat"] == 1.0).sum()) == 2 and goal["weight"].sum() == 2
    for obj in scene.objects:
        row = min(max(round(obj.keyframes[0].y * 4 - 0.5), 0), 3)
        column = min(max(round(obj.keyframes[0].x * 4 - 0.5), 0), 3)
        colours = captioner.config.colours
        assert goal["labels"][0, 0, row, column] == colours.index(obj.colour)
    assert goal["background"].tolist() == [captioner.config.backgrounds.index(scene.background)]


def test_evaluation_reports_every_attribute(vae_dir: Path) -> None:
    torch.manual_seed(0)
    captioner = registry.create(CAPTIONER, **TINY)
    rates = evaluate(captioner, load_vae_encoder(str(vae_dir)), 3, (5, 16, 16))
    assert set(rates) == {"colour", "shape", "motion", "count", "background"}
    assert all(0.0 <= r <= 1.0 for r in rates.values())
