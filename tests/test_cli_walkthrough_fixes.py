"""Small things a walk-through of the CLI found (issue 24, item 11): empty listings say so, ``graph -o`` says what
it wrote, ``install --dry-run`` prints no path that is gone by the time it is read."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from sora_core import registry
from sora_core.cli.main import main
from sora_core.registry import Registry


def _out(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return captured.out


def test_list_with_nothing_installed_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(registry, "default_registry", Registry(paths=[str(tmp_path)]))
    assert _out(capsys, "list").startswith("no particles installed: install a plugin")
    assert _out(capsys, "list", "--json") == '{\n  "particles": [],\n  "problems": []\n}\n'


def test_list_with_no_match_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    text = _out(capsys, "list", "zz*", "--kind", "denoiser")
    assert re.fullmatch(
        r"no particles match 'zz\*' --kind denoiser \(\d+ installed; `sora list` shows them all\)\n", text
    )
    assert "NAME" not in text


def test_search_with_no_result_says_so(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from sora_core import registry_client

    def search(self: Any, query: str | None, **_: Any) -> dict[str, Any]:
        return {"particles": [], "total": 0}

    monkeypatch.setattr(registry_client.RegistryClient, "search", search)
    text = _out(capsys, "search", "blur", "--kind", "video_decoder", "--registry", "http://127.0.0.1:8417")
    assert text == "no particles on http://127.0.0.1:8417 match 'blur' --kind video_decoder\n"
    assert _out(capsys, "search", "--registry", "http://127.0.0.1:8417") == "no particles on http://127.0.0.1:8417\n"


def test_graph_output_says_what_it_wrote(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "seed.html"
    text = _out(capsys, "graph", "seed", "--format", "html", "-o", str(page))
    assert text == f"wrote {page}: an HTML drawing of pipeline 'seed' (4 nodes)\n"
    assert page.read_text().startswith("<!DOCTYPE html>")


def test_install_dry_run_prints_no_deleted_path(capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    text = _out(capsys, "install", "my-blur", "--registry", "http://127.0.0.1:8417", "--dry-run")
    command, note = text.splitlines()
    assert command.endswith("--constraint constraints.txt my-blur")
    assert note == f"# constraints.txt (write it first) holds: torch=={torch.__version__}"
    assert "sora-install-" not in text  # the temporary directory it used to name was deleted on return
    import sys
    import tempfile

    for word in command.split():  # no path in the temporary directory but the interpreter's own (a checkout there)
        assert word == sys.executable or not word.startswith(tempfile.gettempdir()), word
