"""sora generate: the t2v template run from the command line, decoded back, swapped, and refused when wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sora_core.cli.main import main
from sora_core.video_io import read_video

for plugin in ("sora_dit", "sora_text", "sora_vae"):
    pytest.importorskip(plugin, reason="the t2v template needs sora-dit, sora-text and sora-vae (make setup)")

SMALL = ["--frames", "5", "--height", "32", "--width", "48", "--steps", "2"]
#: Another text encoder, a fresh denoiser for it and the width and space the sampler reads: valid only together.
BYTE_TRANSFORMER = ["--swap", "text_encoder=sora-text:byte-transformer", "--swap", "denoiser=sora-dit:dit-denoiser"]
BYTE_TRANSFORMER += ["--set", "sampler.text_dim=256", "--set", "sampler.text_space=text/sora-byte-transformer@1"]


def generate(tmp_path: Path, name: str, *extra: str, prompt: str = "a red circle moving right") -> np.ndarray:
    out = tmp_path / name
    assert main(["generate", prompt, "-o", str(out), *SMALL, *extra]) == 0
    return read_video(out)


def test_generate_writes_a_playable_mp4_with_the_asked_frames_and_size(tmp_path: Path, capsys) -> None:
    sheet, gif = tmp_path / "sheet.png", tmp_path / "clip.gif"
    frames = generate(tmp_path, "clip.mp4", "--contact-sheet", str(sheet), "--gif", str(gif), "--seed", "3")
    assert frames.shape == (5, 32, 48, 3)
    assert read_video(gif).shape == (5, 32, 48, 3)
    assert read_video(sheet).shape[1:] == (2 * 32 + 2, 3 * 48 + 4, 3)  # 5 frames: 3 columns, 2 rows
    assert "5 frames of 48x32 from 'a red circle moving right' (seed 3" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.gif", "clip.mp4", "sheet.png"]


def test_same_seed_same_video_and_swaps_change_the_run(tmp_path: Path) -> None:
    first = generate(tmp_path, "a.mp4", "--seed", "7")
    assert np.array_equal(first, generate(tmp_path, "b.mp4", "--seed", "7"))
    assert not np.array_equal(first, generate(tmp_path, "c.mp4", "--seed", "8"))
    heun = generate(tmp_path, "heun.mp4", "--seed", "7", "--swap", "scheduler=sora-dit:rectified-flow-heun")
    unguided = generate(tmp_path, "unguided.mp4", "--seed", "7", "--guidance", "1")
    for other in (heun, unguided):
        assert other.shape == first.shape and not np.array_equal(other, first)


def test_a_text_encoder_of_another_space_is_refused_at_build_time(tmp_path: Path, capsys) -> None:
    code = main(
        ["generate", "a red circle", "-o", str(tmp_path / "x.mp4"), "--swap", "text_encoder=sora-text:byte-transformer"]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "text/minilm-l6@1" in err and "text/sora-byte-transformer@1" in err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-o", "{tmp}/x.avi"], "unknown video format '.avi'"),
        (["-o", "{tmp}/missing/x.mp4"], "does not exist"),
        (["-o", "{tmp}/x.mp4", "--frames", "6"], "frames"),
        (["-o", "{tmp}/x.mp4", "--height", "30"], "height"),
        (["-o", "{tmp}/x.mp4", "--scale", "0"], "--scale 0 must be at least 1"),
        (["-o", "{tmp}/x.mp4", "--set", "sampler.guidance_scale=lots"], "guidance_scale"),
        (["-o", "{tmp}/x.mp4", "--candidates", "0"], "candidates"),
        (["-o", "{tmp}/x.mp4", "--set", "denoiser.depth=2"], "node 'denoiser' is loaded from weights 'default'"),
        (["-o", "{tmp}/x.mp4", "--template", "no-such-template"], "no installed plugin provides"),
    ],
)
def test_bad_requests_fail_in_one_line_and_write_nothing(
    tmp_path: Path, capsys, args: list[str], expected: str
) -> None:
    code = main(["generate", "a red circle", *[a.replace("{tmp}", str(tmp_path)) for a in args]])
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.startswith("error: ") and expected in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())


def test_an_empty_prompt_is_refused(tmp_path: Path, capsys) -> None:
    assert main(["generate", "  ", "-o", str(tmp_path / "x.mp4")]) == 1
    assert "the prompt is empty" in capsys.readouterr().err


def test_changes_that_only_fit_together_are_applied_at_once(tmp_path: Path) -> None:
    """Another text encoder, a fresh denoiser for it and the width and space the sampler reads: valid only together."""
    # the shipped scorer reads MiniLM tokens: one candidate leaves it unused (and unchecked)
    assert generate(tmp_path, "bytes.mp4", *BYTE_TRANSFORMER, "--candidates", "1").shape == (5, 32, 48, 3)


def test_a_scorer_for_another_text_encoder_is_named_when_candidates_would_use_it(tmp_path: Path, capsys) -> None:
    assert main(["generate", "a red circle", "-o", str(tmp_path / "x.mp4"), *SMALL, *BYTE_TRANSFORMER]) == 1
    error = capsys.readouterr().err
    assert "scorer sora-dit:latent-text-scorer input 'condition'" in error and "text/minilm-l6@1" in error
    assert not (tmp_path / "x.mp4").exists()


def test_swapping_to_another_kind_or_an_unknown_node_is_refused(tmp_path: Path, capsys) -> None:
    out = str(tmp_path / "x.mp4")
    assert main(["generate", "a red circle", "-o", out, "--swap", "scheduler=sora-dit:dit-denoiser"]) == 1
    assert "node 'scheduler' is a scheduler, but sora-dit:dit-denoiser is a denoiser" in capsys.readouterr().err
    assert main(["generate", "a red circle", "-o", out, "--set", "nowhere.steps=2"]) == 1
    assert "cannot configure unknown node 'nowhere'" in capsys.readouterr().err


def test_the_rewrite_is_printed_in_one_line_and_no_rewrite_turns_it_off(tmp_path: Path, capsys) -> None:
    generate(tmp_path, "a.mp4", "--candidates", "1", prompt="a cherry ring drifting rightwards")
    err = capsys.readouterr().err
    assert "rewrite: 'a cherry ring drifting rightwards' -> 'a red circle moving right'\n" in err
    generate(tmp_path, "b.mp4", "--candidates", "1", "--no-rewrite", prompt="a cherry ring drifting rightwards")
    assert "rewrite:" not in capsys.readouterr().err
    generate(tmp_path, "c.mp4", "--candidates", "1", prompt="a red circle moving right")
    assert "rewrite:" not in capsys.readouterr().err  # already in the generator's words: nothing to say


def test_a_prompt_of_nothing_known_exits_1_and_writes_nothing_unless_allowed(tmp_path: Path, capsys) -> None:
    out = tmp_path / "cat.mp4"
    code = main(["generate", "a cat playing the piano", "-o", str(out), *SMALL, "--candidates", "1"])
    err = capsys.readouterr().err
    assert code == 1 and not out.exists()
    assert "error: sora-dit:prompt-rewriter: the prompt 'a cat playing the piano' names nothing" in err
    assert "--allow-unknown" in err and "Traceback" not in err
    generate(tmp_path, "cat.mp4", "--candidates", "1", "--allow-unknown", prompt="a cat playing the piano")
    assert "passed on unchanged (allow_unknown)" in capsys.readouterr().err
