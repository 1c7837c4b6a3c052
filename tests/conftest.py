"""Shared fixtures of the core tests: a directory of synthetic plugins and registries over it."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import ModuleType

import pytest

from sora_core.registry import Registry


@pytest.fixture
def plugin_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty site directory on ``sys.path``; modules imported from it are forgotten afterwards."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    before = set(sys.modules)
    yield root
    for name in set(sys.modules) - before:
        module_file = getattr(sys.modules[name], "__file__", None) or ""
        if module_file.startswith(str(root)):
            del sys.modules[name]


@pytest.fixture
def make_registry(plugin_root: Path):
    """Build a registry that sees only the synthetic plugins in ``plugin_root``."""

    def make() -> Registry:
        return Registry(paths=[str(plugin_root)])

    return make


BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def load_benchmark() -> Callable[[str], ModuleType]:
    """Import a script of ``benchmarks/`` by name (``"bench_understanding"``), to test its functions."""

    def load(name: str) -> ModuleType:
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture
def kill_mid_batch() -> Callable[[Path, Callable[[], Iterable[int]]], AbstractContextManager[list[int]]]:
    """``with kill_mid_batch(parts, pids) as killed:`` kills (SIGKILL) the first process of ``pids()`` that exists
    once the batch whose work folder is ``parts`` has written its first part (its workers are then running their
    next items), from a thread, while the block runs; ``killed`` holds its PID afterwards."""

    @contextmanager
    def kill(parts: Path, pids: Callable[[], Iterable[int]]) -> Iterator[list[int]]:
        killed: list[int] = []
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set() and not killed:
                if parts.is_dir() and any(parts.glob("*.json")):
                    for pid in pids():
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
                            killed.append(pid)
                            return
                time.sleep(0.01)

        watcher = threading.Thread(target=watch, name="kill-mid-batch")
        watcher.start()
        try:
            yield killed
        finally:
            stop.set()
            watcher.join()

    return kill


DOCS_BLOCK = "tests/test_docs.py::test_block["


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """After a run that included tests/test_docs.py: how many docs blocks ran, and every skipped one with its reason."""
    reports = [
        report
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "nodeid", "").startswith(DOCS_BLOCK) and getattr(report, "when", None) in ("call", "setup")
    ]
    if not reports:
        return
    outcomes: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for report in reports:
        block = report.nodeid.split("[", 1)[1].rstrip("]")
        if report.skipped:
            outcomes[block] = "skipped"
            reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else ""
            skipped[block] = reason.removeprefix("Skipped: ").removeprefix(f"{block}: ")
        elif report.when == "call":
            outcomes[block] = report.outcome
    counts = {outcome: sum(1 for o in outcomes.values() if o == outcome) for outcome in ("passed", "failed", "skipped")}
    terminalreporter.write_sep("-", "docs code blocks")
    terminalreporter.write_line(
        f"docs blocks: {counts['passed']} ran and passed, {counts['failed']} failed, {counts['skipped']} skipped"
    )
    for block, reason in sorted(skipped.items()):
        terminalreporter.write_line(f"  skipped {block}: {reason}")
