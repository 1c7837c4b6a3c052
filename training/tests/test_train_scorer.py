"""Stage 3 (train_scorer): exact resume, what it writes, and its argument checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from sora_core import registry
from training.t2v_objective import MINILM, build_text_encoder, load_vae_encoder
from training.train_scorer import (
    ATTRIBUTE_CLASSES,
    COLOURS_AT,
    MOTIONS_AT,
    SCORER,
    SHAPES_AT,
    evaluate,
    pair_loss,
    parse_args,
    scene_attributes,
    train,
)

TINY_SCORER = {
    "hidden_size": 16,
    "video_depth": 1,
    "depth": 1,
    "heads": 2,
    "mlp_ratio": 2.0,
    "patch_h": 2,
    "patch_w": 2,
}


def _args(out: Path, vae: Path, steps: int, *extra: str) -> list[str]:
    return [
        "--out", str(out), "--vae", str(vae), "--steps", str(steps), "--batch", "2", "--negatives", "2",
        "--cache-clips", "6", "--warmup", "1", "--lr", "3e-3", "--frames", "5", "--height", "16", "--width", "16",
        "--threads", "1", "--log-every", "1", "--eval-clips", "0", "--scorer-config", json.dumps(TINY_SCORER),
        *extra,
    ]  # fmt: skip


def test_resumed_run_equals_uninterrupted_run(tmp_path: Path, vae_dir: Path) -> None:
    straight = train(parse_args(_args(tmp_path / "straight", vae_dir, 3)))
    train(parse_args(_args(tmp_path / "split", vae_dir, 2, "--checkpoint-every", "2")))
    resumed = train(parse_args(_args(tmp_path / "split", vae_dir, 3, "--resume")))
    for a, b in zip(straight.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)
    loaded = registry.load(SCORER, weights=tmp_path / "split" / "scorer")
    assert loaded.config.text_space == "text/minilm-l6@1" and loaded.config.latent_channels == 4
    log = [json.loads(line) for line in (tmp_path / "split" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3] and all(0.0 <= r["top1"] <= 1.0 for r in log)


def test_evaluation_reports_each_kind_of_mismatch(tmp_path: Path, vae_dir: Path) -> None:
    torch.manual_seed(0)
    scorer = registry.create(SCORER, latent_channels=4, text_dim=384, text_space="text/minilm-l6@1", **TINY_SCORER)
    vae = load_vae_encoder(str(vae_dir))
    rates = evaluate(scorer, build_text_encoder(MINILM, 0), vae, clips=4, size=(5, 16, 16))
    assert {"colour", "shape", "motion", "all"} <= rates.keys()
    assert all(0.0 <= rate <= 1.0 for rate in rates.values())


def test_a_positive_weighs_as_much_as_its_negatives() -> None:
    labels = torch.tensor([1.0, 0.0, 0.0, 0.0])
    wrong_positive = pair_loss(torch.tensor([-2.0, -2.0, -2.0, -2.0]), labels, 3)
    wrong_negatives = pair_loss(torch.tensor([2.0, 2.0, 2.0, 2.0]), labels, 3)
    torch.testing.assert_close(wrong_positive, wrong_negatives, rtol=0.2, atol=0.0)


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--cache-clips", "1"], "needs at least --batch"),
        (["--noise", "1.5"], "a time in [0, 1)"),
        (["--negatives", "0"], "at least one mismatched caption"),
        (["--kind-weight", "size=2"], "KIND one of add, colour, copy"),
        (["--kind-weight", "motion=fast"], "W must be a number"),
        (["--kind-weight", "motion=0"], "W must be above 0"),
    ],
)
def test_bad_arguments_are_refused(
    tmp_path: Path, extra: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--out", str(tmp_path), *extra])
    assert words in capsys.readouterr().err


def test_scene_attributes_name_colours_shapes_motions_and_count() -> None:
    import numpy as np
    from sora_synth.scene import sample_scene

    scene = sample_scene(np.random.default_rng(2), p_two=1.0)
    target = scene_attributes(scene)
    assert target.shape == (ATTRIBUTE_CLASSES,) and target[-1] == 1.0
    named = {i for i in range(ATTRIBUTE_CLASSES - 1) if target[i]}
    expected = set()
    for obj in scene.attributes:
        expected |= {COLOURS_AT[obj.colour], SHAPES_AT[obj.shape], MOTIONS_AT[obj.motion]}
    assert named == expected


def test_the_attribute_head_exists_only_when_asked_for() -> None:
    from sora_core.errors import ConfigError

    plain = registry.create(SCORER, **TINY_SCORER)
    video = plain.encode_videos(torch.randn(2, 8, 2, 4, 4))
    with pytest.raises(ConfigError, match="attribute_classes=0"):
        plain.video_attributes(video)
    headed = registry.create(SCORER, attribute_classes=ATTRIBUTE_CLASSES, **TINY_SCORER)
    assert headed.video_attributes(headed.encode_videos(torch.randn(2, 8, 2, 4, 4))).shape == (2, ATTRIBUTE_CLASSES)


def test_kind_weights_draw_the_weighted_mistakes_more_often() -> None:
    import numpy as np
    from sora_synth.scene import sample_scene

    from training.train_scorer import texts_for

    scene = sample_scene(np.random.default_rng(4), p_two=0.0)
    truth = scene.attributes[0]

    def motion_negatives(weights: dict[str, float] | None) -> int:
        rng = np.random.default_rng(9)
        texts = [t for _ in range(60) for t in texts_for(scene, 3, rng, weights)[1:]]
        # a motion mismatch keeps the colour and shape words and is the only kind that keeps one object
        return sum(truth.colour in t and truth.shape in t and " and " not in t for t in texts)

    assert motion_negatives({"motion": 20.0}) > 2 * motion_negatives(None)


def test_a_resumed_run_must_keep_its_kind_weights(tmp_path: Path, vae_dir: Path) -> None:
    train(parse_args(_args(tmp_path / "run", vae_dir, 1, "--checkpoint-every", "1", "--kind-weight", "swap=2")))
    with pytest.raises(SystemExit, match="kind_weight"):
        train(parse_args(_args(tmp_path / "run", vae_dir, 2, "--resume", "--kind-weight", "swap=3")))
