"""Every file a command writes is checked before the work starts: a bad path is refused and nothing is written.

Each command that writes (``run --output/--trace-out``, ``graph -o``, ``lock -o``, ``generate -o/--gif/
--contact-sheet``, ``summarize --sheet``) is given a directory, a missing directory, a file posing as a
directory, an unwritable place, a device file and an over-long name. Each must exit 1 naming the flag,
before any pipeline runs, leaving no file (not even a temporary one) behind.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sora_core.cli.main import main
from sora_core.cli.paths import check_output_path
from sora_core.errors import ConfigError

SEED_INPUTS = ["--input", "text=randn:1,2,512", "--input", "video_features=randn:1,2,512"]

#: (command before the flag, the flag, the file type it writes, command after the path)
COMMANDS = [
    (["run", "seed", *SEED_INPUTS], "--output", ".safetensors", []),
    (["run", "seed", *SEED_INPUTS], "--trace-out", ".json", []),
    (["graph", "seed", "--format", "html"], "-o", ".html", []),
    (["lock", "seed"], "-o", ".lock.json", []),
    (["generate", "a red circle"], "-o", ".mp4", []),
    (["generate", "a red circle", "-o", "{tmp}/ok.mp4"], "--gif", ".gif", []),
    (["generate", "a red circle", "-o", "{tmp}/ok.mp4"], "--contact-sheet", ".png", []),
    (["summarize", "{tmp}/clip.gif"], "--sheet", ".png", []),
]

#: (a bad path, with {tmp} for the test's folder and {ext} for the file type; what the error says)
BAD_PATHS = [
    ("{tmp}", "is a directory"),
    ("{tmp}/folder/", "is a directory"),
    ("{tmp}/missing/out{ext}", "does not exist"),
    ("{tmp}/missing/deeper/out{ext}", "does not exist"),
    ("{tmp}/afile.txt/out{ext}", "is not a directory"),
    ("{tmp}/" + "x" * 250 + "{ext}", "too long"),
    ("", "is empty"),
]
if Path("/proc").is_dir():  # unwritable even for root
    BAD_PATHS.append(("/proc/out{ext}", "cannot write into /proc"))
if Path("/dev/null").exists():
    BAD_PATHS.append(("/dev/null", "/dev/null"))


def _run(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str]:
    capsys.readouterr()
    try:
        code = main(args)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    return code, capsys.readouterr().err


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize(("before", "flag", "ext", "after"), COMMANDS, ids=[f"{c[0][0]} {c[1]}" for c in COMMANDS])
@pytest.mark.parametrize(("bad", "expected"), BAD_PATHS, ids=[b[0].replace("{tmp}", "tmp")[:30] for b in BAD_PATHS])
def test_a_bad_output_path_is_refused_before_the_work_starts(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    before: list[str],
    flag: str,
    ext: str,
    after: list[str],
    bad: str,
    expected: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile.txt").write_text("x")
    (tmp_path / "folder").mkdir()
    path = bad.replace("{tmp}", str(tmp_path)).replace("{ext}", ext)
    args = [a.replace("{tmp}", str(tmp_path)) for a in before] + [flag, path] + after
    code, err = _run(capsys, args)
    assert code == 1, err
    assert err.startswith("error: ") and "\n  hint: " in err and "unexpected" not in err, err
    assert expected in err or (flag == "--sheet" and "the sheet is a PNG" in err), err
    assert flag.lstrip("-") in err or "--output" in err, err  # -o is reported as --output
    assert _files(tmp_path) == [tmp_path / "afile.txt"], "something was written"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_directory_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code, err = _run(capsys, ["graph", "seed", "-o", str(locked / "g.md")])
    finally:
        locked.chmod(0o700)
    assert code == 1 and "cannot write into" in err
    assert not list(locked.iterdir())


def test_a_contact_sheet_into_a_missing_folder_writes_no_video(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = tmp_path / "out.mp4"
    code, err = _run(
        capsys,
        ["generate", "a red circle", "-o", str(video), "--contact-sheet", str(tmp_path / "missing" / "sheet.png")],
    )
    assert code == 1 and "--contact-sheet" in err and "does not exist" in err
    assert not video.exists() and not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("flag", "path", "suffixes", "expected"),
    [
        ("--gif", "out.mp4", (".gif",), "unknown GIF format '.mp4'"),
        ("--contact-sheet", "out.jpg", (".png",), "unknown image format '.jpg'"),
    ],
)
def test_output_file_types_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, path: str, suffixes: tuple[str, ...], expected: str
) -> None:
    code, err = _run(capsys, ["generate", "a red circle", "-o", str(tmp_path / "ok.mp4"), flag, str(tmp_path / path)])
    assert code == 1 and expected in err
    assert not list(tmp_path.iterdir())


def test_good_paths_pass_and_leave_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    existing = tmp_path / "old.json"
    existing.write_text("{}")
    assert check_output_path(existing, "--trace-out") == existing
    assert check_output_path(str(tmp_path / "new.json"), "--trace-out", (".json",)) == tmp_path / "new.json"
    monkeypatch.chdir(tmp_path)
    assert check_output_path("here.json", "-o") == Path("here.json")
    assert _files(tmp_path) == [existing]


def test_a_symlink_to_a_directory_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(ConfigError, match="is a directory"):
        check_output_path(tmp_path / "link", "--output")


def test_a_pipeline_name_that_is_a_path_cannot_name_the_default_lock_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "name: ../escaped\nnodes:\n  t: {particle: byte-tokenizer}\ninputs: {text: t.text}\n", encoding="utf-8"
    )
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    code, err = _run(capsys, ["lock", str(spec)])
    assert code == 1 and "cannot name a lock file" in err, err
    assert not (tmp_path / "escaped.lock.json").exists()
