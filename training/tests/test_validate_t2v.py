"""validate_t2v's prompts: reproducible, training-distribution, never the benchmark's held-out ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from sora_synth.captions import parse_prompt
from sora_synth.splits import HELDOUT_TRIPLES, heldout_prompts

from training.validate_t2v import main, validation_prompts


def test_validation_prompts_are_fixed_and_never_held_out() -> None:
    prompts = validation_prompts(60)
    assert prompts == validation_prompts(60) and len(set(prompts)) > 50
    assert validation_prompts(20, first=40) == prompts[40:]
    assert not set(prompts) & {p.text for p in heldout_prompts()}
    for prompt in prompts:
        for obj in parse_prompt(prompt).objects:
            assert (obj.colour, obj.shape, obj.motion) not in HELDOUT_TRIPLES


def test_a_denoiser_that_is_not_one_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"--denoiser .*nowhere"):
        main(["--denoiser", str(tmp_path / "nowhere"), "--prompts", "1", "--threads", "1"])


MALFORMED = [("--interval", "0:1", bad) for bad in ("0.8", "a:b", "0.9:0.2", "0:1.5")] + [
    ("--schedule", "none", bad) for bad in ("0.9", "a:2", "0.9:2,", "1.5:2", "0.5:-1")
]


@pytest.mark.parametrize(("flag", "good", "bad"), MALFORMED)
def test_a_malformed_interval_or_schedule_is_a_usage_error_naming_it(
    flag: str, good: str, bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([flag, good, bad, "--prompts", "1", "--threads", "1"])
    assert f"{flag} {bad!r}" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["25x64", "25x64xwide", "0x64x64"])
def test_a_malformed_size_is_a_usage_error_naming_it(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--size", bad, "--prompts", "1", "--threads", "1"])
    assert f"--size {bad!r}" in capsys.readouterr().err


def test_wide_validation_scenes_are_other_scenes_of_the_same_stream() -> None:
    assert validation_prompts(8, aspect=1.5) != validation_prompts(8)
    assert validation_prompts(8, aspect=1.5) == validation_prompts(8, aspect=1.5)


def test_a_run_at_a_size_reports_every_attribute_and_each_motion(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--guidance", "4", "--shift", "3", "--candidates", "1", "--size", "9x64x96", "--prompts", "1"])
    out = capsys.readouterr().out
    assert "guidance  4.0" in out and "colour" in out and "best:" in out
    motions = out.split("motions: ")[1].splitlines()[0]
    asked = parse_prompt(validation_prompts(1, aspect=1.5)[0]).objects
    assert all(f"{obj.motion} " in motions for obj in asked if obj.motion)
