"""Stage 2 (train_t2v): exact resume, the loss falls on a fixed batch, and a wrong --vae is reported clearly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file
from sora_synth.splits import HELDOUT_TRIPLES

from sora_core import registry
from training.latent_cache import CACHE_FILE, cache_scenes, cached_batch, load_or_encode
from training.logging_utils import LossLog
from training.t2v_objective import (
    build_denoiser,
    build_text_encoder,
    caption_batch,
    encode_latents,
    latent_foreground,
    load_vae_encoder,
    t2v_step_loss,
)
from training.tests.conftest import TINY_VAE
from training.train_t2v import bucket_batches, bucket_tokens, draw_bucket, parse_args, parse_buckets, train

TINY_DIT = {"hidden_size": 32, "depth": 1, "heads": 2, "mlp_ratio": 2.0}
TINY_TEXT = {"dim": 32, "layers": 1, "heads": 2, "mlp_ratio": 2, "max_length": 48}


def _args(out: Path, vae: Path | str, steps: int, *extra: str) -> list[str]:
    return [
        "--out", str(out), "--vae", str(vae), "--steps", str(steps), "--batch", "2", "--lr", "3e-3",
        "--warmup", "1", "--frames", "5", "--height", "16", "--width", "16", "--threads", "1",
        "--log-every", "1", "--text-encoder", "sora-text:byte-transformer",
        "--denoiser-config", json.dumps(TINY_DIT), "--text-config", json.dumps(TINY_TEXT),
        *extra,
    ]  # fmt: skip


def _parameters(models: dict[str, Any]) -> list[torch.Tensor]:
    return [p.detach().clone() for name in ("denoiser", "text_encoder") for p in models[name].parameters()]


def test_resumed_run_equals_uninterrupted_run(tmp_path: Path, vae_dir: Path) -> None:
    expected = _parameters(train(parse_args(_args(tmp_path / "straight", vae_dir, 3))))

    train(parse_args(_args(tmp_path / "split", vae_dir, 2, "--checkpoint-every", "2")))
    torch.manual_seed(1234)  # whatever the interrupted process did afterwards is forgotten
    resumed = train(parse_args(_args(tmp_path / "split", vae_dir, 3, "--checkpoint-every", "2", "--resume")))
    got = _parameters(resumed)
    assert len(got) == len(expected) and all(torch.equal(a, b) for a, b in zip(expected, got, strict=True))

    out = tmp_path / "split"
    assert [r["step"] for r in LossLog.read(out / "log.jsonl")] == [1, 2, 3]
    summary = json.loads((out / "t2v.json").read_text())
    assert summary["step"] == 3 and summary["vae_decoder"] == str((vae_dir / "decoder").resolve())
    denoiser = registry.load("sora-dit:dit-denoiser", weights=out / "denoiser")
    assert denoiser.config.latent_channels == 4 and denoiser.config.text_dim == 32
    registry.load("sora-text:byte-transformer", weights=out / "text_encoder")


def test_resume_refuses_other_arguments(tmp_path: Path, vae_dir: Path) -> None:
    train(parse_args(_args(tmp_path, vae_dir, 1)))
    with pytest.raises(SystemExit, match="was trained with"):
        train(parse_args([*_args(tmp_path, vae_dir, 2), "--resume", "--cfg-dropout", "0.5"]))


def test_loss_falls_on_a_fixed_batch(vae_dir: Path) -> None:
    torch.set_num_threads(1)
    vae = load_vae_encoder(str(vae_dir))
    text = build_text_encoder("sora-text:byte-transformer", 0, TINY_TEXT)
    denoiser = build_denoiser(vae, "sora-text:byte-transformer", 32, 0, TINY_DIT)
    video, captions = caption_batch(0, 0, 2, frames=5, height=16, width=16)
    latent = encode_latents(vae, video)
    params = [*denoiser.parameters(), *text.parameters()]
    optimizer = torch.optim.AdamW(params, lr=1e-2)
    losses = []
    for _ in range(20):
        generator = torch.Generator().manual_seed(0)  # the same times and noise each step: a fixed problem
        loss = t2v_step_loss(denoiser, text, latent, captions, generator, cfg_dropout=0.0).total
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


def test_a_wrong_vae_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no trained VAE encoder there"):
        train(parse_args(_args(tmp_path / "run", tmp_path / "nowhere", 1)))
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_a_cached_run_resumes_exactly_and_reuses_its_cache(tmp_path: Path, vae_dir: Path) -> None:
    cached = ("--cache-clips", "5")
    expected = _parameters(train(parse_args(_args(tmp_path / "straight", vae_dir, 3, *cached))))

    out = tmp_path / "split"
    train(parse_args(_args(out, vae_dir, 2, "--checkpoint-every", "2", *cached)))
    cache = out / CACHE_FILE
    assert load_file(str(cache))["latents"].shape == (5, 4, 3, 8, 8)
    written = cache.stat().st_mtime_ns
    resumed = train(parse_args(_args(out, vae_dir, 3, "--checkpoint-every", "2", "--resume", *cached)))
    assert cache.stat().st_mtime_ns == written  # read back, not encoded again
    got = _parameters(resumed)
    assert all(torch.equal(a, b) for a, b in zip(expected, got, strict=True))


def test_a_cache_made_for_another_vae_or_a_damaged_one_is_encoded_again(tmp_path: Path, vae_dir: Path) -> None:
    vae = load_vae_encoder(str(vae_dir))
    scenes = cache_scenes(0, 3)
    path = tmp_path / CACHE_FILE
    first = load_or_encode(path, vae, scenes, {"vae": "a"}, 5, 16, 16)
    other = load_or_encode(path, registry.create("sora-vae:causal-vae-encoder", **TINY_VAE).eval(), scenes,
                           {"vae": "b"}, 5, 16, 16)  # fmt: skip
    assert not torch.equal(first, other)
    path.write_bytes(b"not a safetensors file")
    again = load_or_encode(path, vae, scenes, {"vae": "a"}, 5, 16, 16)
    torch.testing.assert_close(again, first)


def test_cached_batches_are_recaptioned_and_exclude_held_out_triples() -> None:
    scenes = cache_scenes(0, 4)
    latents = torch.arange(4.0).view(4, 1, 1, 1, 1)
    captions = set()
    for step in range(40):
        latent, texts = cached_batch(0, step, 2, scenes, latents)
        assert latent.shape == (2, 1, 1, 1, 1)
        captions.update(texts)
    assert len(captions) > 4  # the same few clips, told in many ways
    for scene in cache_scenes(0, 200):
        for obj in scene.objects:
            assert (obj.attributes.colour, obj.attributes.shape, obj.attributes.motion) not in HELDOUT_TRIPLES


def test_latent_foreground_marks_what_differs_from_the_background() -> None:
    latent = torch.zeros(1, 2, 1, 4, 4)
    latent[0, 1, 0, 1, 2] = 3.0
    mask = latent_foreground(latent)
    assert mask.shape == (1, 1, 1, 4, 4) and mask.sum() == 1 and mask[0, 0, 0, 1, 2] == 1


def test_a_run_can_start_from_trained_denoiser_weights(tmp_path: Path, vae_dir: Path) -> None:
    first = train(parse_args(_args(tmp_path / "first", vae_dir, 1)))
    start = [p.detach().clone() for p in first["denoiser"].parameters()]
    init = ("--init-denoiser", str(tmp_path / "first" / "denoiser"), "--foreground-weight", "3")
    second = train(parse_args(_args(tmp_path / "second", vae_dir, 1, *init)))
    after = list(second["denoiser"].parameters())
    assert len(after) == len(start) and not all(torch.equal(a, b) for a, b in zip(start, after, strict=True))
    loaded = registry.load("sora-dit:dit-denoiser", weights=tmp_path / "second" / "denoiser")
    assert loaded.config == first["denoiser"].config


def test_init_weights_for_another_text_space_are_refused(tmp_path: Path, vae_dir: Path) -> None:
    train(parse_args(_args(tmp_path / "bytes", vae_dir, 1)))
    minilm = [*_args(tmp_path / "minilm", vae_dir, 1), "--text-encoder", "sora-text:minilm-l6"]
    with pytest.raises(SystemExit, match="text_space 'text/sora-byte-transformer@1'"):
        train(parse_args([*minilm, "--init-denoiser", str(tmp_path / "bytes" / "denoiser")]))


def test_the_weight_average_resumes_exactly_and_is_what_is_written(tmp_path: Path, vae_dir: Path) -> None:
    averaged = ("--ema", "0.9")
    straight = train(parse_args(_args(tmp_path / "straight", vae_dir, 3, *averaged)))
    out = tmp_path / "split"
    train(parse_args(_args(out, vae_dir, 2, "--checkpoint-every", "2", *averaged)))
    resumed = train(parse_args(_args(out, vae_dir, 3, "--checkpoint-every", "2", "--resume", *averaged)))
    for name in ("denoiser-ema", "text_encoder-ema"):
        assert all(
            torch.equal(a, b) for a, b in zip(straight[name].parameters(), resumed[name].parameters(), strict=True)
        )
    average = [p.detach() for p in resumed["denoiser-ema"].parameters()]
    raw = [p.detach() for p in resumed["denoiser"].parameters()]
    assert any(not torch.equal(a, r) for a, r in zip(average, raw, strict=True))  # an average, not a copy

    written = registry.load("sora-dit:dit-denoiser", weights=out / "denoiser")
    assert all(torch.equal(a, w) for a, w in zip(average, written.parameters(), strict=True))
    written_raw = registry.load("sora-dit:dit-denoiser", weights=out / "denoiser-raw")
    assert all(torch.equal(r, w) for r, w in zip(raw, written_raw.parameters(), strict=True))
    assert json.loads((out / "t2v.json").read_text())["ema"] == 0.9


def test_a_decay_outside_the_unit_interval_is_refused(tmp_path: Path, vae_dir: Path) -> None:
    with pytest.raises(SystemExit):
        parse_args(_args(tmp_path, vae_dir, 1, "--ema", "1.5"))


def test_the_average_follows_the_ramped_decay() -> None:
    from training.ema import ema_copy, ema_decay, ema_update

    model = torch.nn.Linear(2, 2)
    average = ema_copy(model)
    assert ema_decay(0.999, 0) == pytest.approx(0.1) and ema_decay(0.999, 10**6) == 0.999
    before = average.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    ema_update(average, model, 0.999, updates=0)
    assert torch.allclose(average.weight, before + 0.9)
    assert not average.weight.requires_grad


def test_a_bfloat16_run_trains_float32_weights(tmp_path: Path, vae_dir: Path) -> None:
    trained = train(parse_args(_args(tmp_path, vae_dir, 2, "--bf16", "--ema", "0")))
    log = LossLog.read(tmp_path / "log.jsonl")
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in log)
    assert all(p.dtype == torch.float32 for p in trained["denoiser"].parameters())
    written = registry.load("sora-dit:dit-denoiser", weights=tmp_path / "denoiser")
    assert all(torch.equal(a, b) for a, b in zip(trained["denoiser"].parameters(), written.parameters(), strict=True))


class _RecordingDenoiser(torch.nn.Module):
    """Predicts zero velocity and keeps the times it was asked about."""

    prediction_type = "velocity"

    def __init__(self) -> None:
        super().__init__()
        self.times: list[torch.Tensor] = []

    def forward(self, latent: torch.Tensor, timestep: torch.Tensor, **_: Any) -> dict[str, torch.Tensor]:
        self.times.append(timestep.detach().clone())
        return {"prediction": torch.zeros_like(latent)}


def test_the_time_shift_moves_training_times_towards_noise() -> None:
    text_encoder = build_text_encoder("sora-text:byte-transformer", 0, TINY_TEXT)
    latent = torch.randn(64, 2, 1, 2, 2)
    captions = ["a red circle moving right"] * 64
    drawn = {}
    for shift in (1.0, 3.0):
        denoiser = _RecordingDenoiser()
        t2v_step_loss(denoiser, text_encoder, latent, captions, torch.Generator().manual_seed(5), 0.0, time_shift=shift)
        drawn[shift] = denoiser.times[0]
    plain, shifted = drawn[1.0], drawn[3.0]
    assert torch.allclose(shifted, 3 * plain / (1 + 2 * plain))
    assert bool((shifted > plain).all()) and shifted.median() > 0.6


def test_the_cache_holds_the_asked_share_of_two_object_scenes() -> None:
    assert all(len(s.objects) == 2 for s in cache_scenes(0, 30, p_two=1.0))
    assert all(len(s.objects) == 1 for s in cache_scenes(0, 30, p_two=0.0))
    half = sum(len(s.objects) == 2 for s in cache_scenes(0, 400, p_two=0.5))
    assert 160 < half < 240


@pytest.mark.parametrize("option", [["--time-shift", "0"], ["--two-object-rate", "1.5"], ["--two-object-rate", "-0.1"]])
def test_out_of_range_shift_or_two_object_rate_is_refused(
    tmp_path: Path, vae_dir: Path, option: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parse_args(_args(tmp_path, vae_dir, 1, *option))
    assert option[0] in capsys.readouterr().err


def test_bfloat16_on_a_cpu_without_it_warns(
    tmp_path: Path, vae_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import training.train_t2v as stage

    monkeypatch.setattr(stage, "cpu_has_bfloat16", lambda: False)
    train(parse_args(_args(tmp_path, vae_dir, 1, "--bf16", "--ema", "0")))
    assert "--bf16 on a CPU without bfloat16 instructions" in capsys.readouterr().err


def test_buckets_parse_and_get_batches_of_equal_tokens() -> None:
    sizes = parse_buckets("9x64x64, 17x96x96,9x64x96")
    assert sizes == [(9, 64, 64), (17, 96, 96), (9, 64, 96)]
    assert [bucket_tokens(s) for s in sizes] == [192, 720, 288]
    assert bucket_batches(sizes, 16) == [16, 4, 11]
    for bad, said in (("9x64", "FRAMESxHEIGHTxWIDTH"), ("10x64x64", r"1 \+ 4k"), ("9x64x64,9x64x64", "twice")):
        with pytest.raises(ValueError, match=said):
            parse_buckets(bad)


def test_bucket_draws_are_uniform_by_default_and_follow_weights() -> None:
    uniform = [draw_bucket(11, step, 3) for step in range(3000)]
    assert uniform == [draw_bucket(11, step, 3, [2.0, 2.0, 2.0]) for step in range(3000)]  # equal weights: the same
    assert all(abs(uniform.count(b) / 3000 - 1 / 3) < 0.04 for b in range(3))
    weighted = [draw_bucket(11, step, 3, [1.0, 1.0, 2.0]) for step in range(3000)]
    assert abs(weighted.count(2) / 3000 - 0.5) < 0.04 and abs(weighted.count(0) / 3000 - 0.25) < 0.04
    assert weighted == [draw_bucket(11, step, 3, [1.0, 1.0, 2.0]) for step in range(3000)]  # a pure function


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--buckets", "9x64x64,17x64x64", "--bucket-weights", "1,2,3"], "3 weight"),
        (["--buckets", "9x64x64,17x64x64", "--bucket-weights", "1,-2"], "positive"),
        (["--buckets", "9x64x64,17x64x64", "--bucket-weights", "1,nan"], "positive"),
        (["--buckets", "9x64x64,17x64x64", "--bucket-weights", "one,two"], "numbers"),
        (["--bucket-weights", "1,2"], "needs --buckets"),
    ],
)
def test_bad_bucket_weights_are_refused(tmp_path: Path, argv: list[str], said: str, capsys) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--out", str(tmp_path), "--vae", "default", "--cache-clips", "8", *argv])
    assert said in capsys.readouterr().err


def test_bucket_weights_parse_in_order() -> None:
    args = parse_args(
        [
            "--out",
            "x",
            "--vae",
            "default",
            "--cache-clips",
            "8",
            "--buckets",
            "9x64x64,17x64x64",
            "--bucket-weights",
            "1,3",
        ]
    )
    assert args.bucket_weights == [1.0, 3.0] and args.bucket_sizes == [(9, 64, 64), (17, 64, 64)]
