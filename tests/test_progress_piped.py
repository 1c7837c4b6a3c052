"""Progress when stderr is piped: ``--progress`` and ``SORA_PROGRESS=1`` write plain lines (docs/cli.md)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sora_core import progress

SPEC = (
    "name: small\nnodes:\n  gen: {particle: sora-seed:lstm-video-generator}\n"
    "inputs: {condition: gen.condition}\noutputs: {video: gen.video}\n"
)


def run_piped(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``sora ARGS`` in a fresh interpreter, stdout and stderr pipes (not terminals)."""
    environment = {k: v for k, v in os.environ.items() if k != "SORA_PROGRESS"} | env
    return subprocess.run(
        [sys.executable, "-m", "sora_core.cli.main", *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=300,
    )


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SPEC)
    return path


def test_progress_flag_writes_lines_to_a_pipe(spec: Path, tmp_path: Path) -> None:
    done = run_piped(["run", str(spec), "--input", "condition=randn:2,3,256", "--progress"], tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == "small: 0/1"
    assert re.fullmatch(r"small: 1/1 gen \(\d+\.\d s\)", lines[1]), lines
    assert "small:" not in done.stdout  # progress never mixes into the outputs


def test_sora_progress_1_writes_lines_without_the_flag_and_0_or_no_progress_silence_them(
    spec: Path, tmp_path: Path
) -> None:
    args = ["run", str(spec), "--input", "condition=randn:2,3,256"]
    on = run_piped(args, tmp_path, SORA_PROGRESS="1")
    assert on.returncode == 0 and on.stderr.splitlines()[:1] == ["small: 0/1"], on.stderr
    assert re.search(r"^small: 1/1 gen \(", on.stderr, re.MULTILINE)
    for silent in (
        run_piped(args, tmp_path),  # piped and not asked: nothing
        run_piped(args, tmp_path, SORA_PROGRESS="0"),
        run_piped([*args, "--no-progress"], tmp_path, SORA_PROGRESS="1"),
    ):
        assert silent.returncode == 0 and "small:" not in silent.stderr, silent.stderr


def test_generate_reports_nodes_and_the_sampling_steps_inside_them(tmp_path: Path) -> None:
    done = run_piped(
        ["generate", "a red circle moving right", "-o", "clip.mp4", "--steps", "2", "--candidates", "1", "--progress"],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == "t2v: 0/6"
    # the sampling loop (asked nothing itself) shows because the run's progress is showing
    sampling = [line for line in lines if line.startswith("sampling: ")]
    assert sampling[0] == "sampling: 0/2" and sampling[-1].startswith("sampling: 2/2 ("), lines
    assert lines.index(sampling[-1]) < next(i for i, line in enumerate(lines) if line.startswith("t2v: 4/6 sampler"))
    assert (tmp_path / "clip.mp4").is_file()


def test_lines_thin_out_to_every_5_percent_of_long_loops(capsys: pytest.CaptureFixture[str]) -> None:
    assert list(progress.track(range(200), total=200, description="long", show=True)) == list(range(200))
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "long: 0/200" and lines[-1].startswith("long: 200/200 (")
    assert len(lines) == 1 + 20  # the start, then one line per 5%
    assert list(progress.track(range(3), total=3, description="short", show=True)) == [0, 1, 2]
    assert [line.split(" (")[0] for line in capsys.readouterr().err.splitlines()] == [
        "short: 0/3",
        "short: 1/3",
        "short: 2/3",
        "short: 3/3",
    ]


def test_a_loop_without_a_total_counts_and_labels_are_made_printable(capsys: pytest.CaptureFixture[str]) -> None:
    with progress.steps(None, "walk\x1b[2J", show=True) as advance:
        advance("node\x1b]0;title\x07")
    err = capsys.readouterr().err
    assert "\x1b" not in err and err.splitlines()[0] == "walk: 0"
    assert err.splitlines()[1].startswith("walk: 1 node")


def test_nothing_is_written_when_progress_is_off(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.delenv("SORA_PROGRESS", raising=False)
    assert list(progress.track(range(3), total=3, description="x")) == [0, 1, 2]  # stderr captured: no tty
    monkeypatch.setenv("SORA_PROGRESS", "0")
    with progress.steps(2, "outer", show=True):
        assert list(progress.track(range(2), total=2, description="inner")) == [0, 1]
    err = capsys.readouterr().err
    assert "x:" not in err and "inner" not in err and err.startswith("outer: 0/2")


def test_a_closed_stderr_does_not_fail_the_run(monkeypatch) -> None:
    class Closed:
        def isatty(self) -> bool:
            return False

        def write(self, text: str) -> int:
            raise ValueError("I/O operation on closed file")

        def flush(self) -> None:
            raise ValueError("I/O operation on closed file")

    monkeypatch.setattr(sys, "stderr", Closed())
    assert list(progress.track(range(2), total=2, description="x", show=True)) == [0, 1]


def test_sora_progress_1_reaches_caption_too(tmp_path: Path) -> None:
    """caption, ask and summarize honour SORA_PROGRESS like run and generate (their --progress defaults to unset)."""
    made = run_piped(["generate", "a red circle moving right", "-o", "clip.gif", "--candidates", "1"], tmp_path)
    assert made.returncode == 0, made.stderr
    done = run_piped(["caption", "clip.gif"], tmp_path, SORA_PROGRESS="1")
    assert done.returncode == 0, done.stderr
    assert re.search(r"^v2t: \d+/\d+", done.stderr, re.MULTILINE), done.stderr
    quiet = run_piped(["caption", "clip.gif"], tmp_path)
    assert quiet.returncode == 0 and not re.search(r"^v2t: ", quiet.stderr, re.MULTILINE), quiet.stderr
