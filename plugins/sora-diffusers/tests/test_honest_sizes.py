"""A size the weights were not trained for is generated but said: CogVideoX 2b/5b know only their sample size."""

from __future__ import annotations

from pathlib import Path

import pytest

from sora_core.cli.main import main


def generate(capsys: pytest.CaptureFixture[str], folder: Path, out: Path, *flags: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["generate", "--model", str(folder), "a red ball", "-o", str(out), "--steps", "2", *flags])
    return code, capsys.readouterr().err


def test_a_size_outside_training_is_warned_about(
    cogvideox_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = generate(capsys, cogvideox_folder, tmp_path / "big.mp4", "--height", "32", "--width", "32")
    assert code == 0 and (tmp_path / "big.mp4").is_file()
    assert (
        "warning: sora-diffusers:guided-sampler: 9 frames of 32x32 are outside what this cogvideox transformer was "
        "trained at (9 frames of 16x16); expect a degraded video"
    ) in err


def test_the_trained_size_gets_no_warning(
    cogvideox_folder: Path, wan_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = generate(capsys, cogvideox_folder, tmp_path / "cog.mp4")
    assert code == 0 and "warning" not in err
    # Wan's rotary positions are not tied to one size: no trained size is claimed for it
    code, err = generate(capsys, wan_folder, tmp_path / "wan.mp4", "--frames", "9", "--height", "32", "--width", "32")
    assert code == 0 and "warning" not in err
