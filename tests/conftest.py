"""Shared fixtures of the core tests: a directory of synthetic plugins and registries over it, a real Ray cluster."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

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


RAY = str(Path(sys.executable).with_name("ray"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(arguments: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """``ray start ... --block`` in a session of its own, so that its whole process group can be ended."""
    with log.open("w") as out:
        return subprocess.Popen(
            [RAY, "start", "--block", *arguments], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def end(process: subprocess.Popen) -> None:
    """End a node: its process group (ray start and the daemons and workers it started), gently, then not."""
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 15)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        deadline = time.monotonic() + wait
        while in_group(process.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(1)
        if not in_group(process.pid):
            return


def node_processes(nodes: list[subprocess.Popen]) -> list[Any]:
    import psutil

    found = []
    for node in nodes:
        with contextlib.suppress(psutil.Error):
            found += psutil.Process(node.pid).children(recursive=True)
    return found


def in_group(pgid: int) -> list[int]:
    """The processes still in process group ``pgid`` (what a node left running)."""
    import psutil

    left = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                left.append(process.pid)
    return left


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[str, list[subprocess.Popen]]]:
    """A real two-node Ray cluster (one CPU each; ``ray start``, a head and a worker node on this machine, in a
    private temporary folder, ended by their process groups) on a free loopback port, one per test module: its
    address and its two ``ray start`` processes."""
    folder = Path(tempfile.mkdtemp(prefix="sora-ray-", dir="/tmp"))  # short: Ray's socket paths live under it
    # no token: a test cluster on loopback, and nothing written to ~/.ray (the driver, this process, agrees)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    patch = pytest.MonkeyPatch()
    patch.setenv("RAY_AUTH_MODE", "disabled")
    patch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    port = free_port()
    address = f"127.0.0.1:{port}"
    common = ["--num-cpus=1", "--object-store-memory=100000000", "--disable-usage-stats", f"--temp-dir={folder}"]
    head = start(
        ["--head", f"--port={port}", "--node-ip-address=127.0.0.1", "--include-dashboard=false", *common],
        env,
        folder / "head.log",
    )
    nodes = [head]
    try:
        import ray

        deadline = time.monotonic() + 60
        while True:  # the head answers once it is up; then the worker node joins it
            probe = subprocess.run(
                [RAY, "status", f"--address={address}"], env=env, capture_output=True, text=True, check=False
            )
            if probe.returncode == 0:
                break
            assert head.poll() is None and time.monotonic() < deadline, (folder / "head.log").read_text()
            time.sleep(0.5)
        nodes.append(
            start([f"--address={address}", "--node-ip-address=127.0.0.1", *common], env, folder / "worker.log")
        )
        while (
            "/2.0 CPU"
            not in subprocess.run(
                [RAY, "status", f"--address={address}"], env=env, capture_output=True, text=True, check=False
            ).stdout
        ):
            assert nodes[1].poll() is None and time.monotonic() < deadline, (folder / "worker.log").read_text()
            time.sleep(0.5)
        yield address, nodes
        if ray.is_initialized():
            ray.shutdown()
    finally:
        patch.undo()
        for node in reversed(nodes):
            end(node)
        left = [pid for node in nodes for pid in in_group(node.pid)]
        shutil.rmtree(folder, ignore_errors=True)
        assert not left, f"processes of the test's Ray nodes were left running: {left}"


@pytest.fixture
def ray_processes() -> Callable[[list[subprocess.Popen], str], list[int]]:
    """``ray_processes(nodes, marker)``: the PIDs of the processes of ``cluster``'s nodes whose command line holds
    ``marker`` (Ray names its actors' processes after their class, e.g. ``ray::ServeReplica:APP:DEPLOYMENT``)."""

    def find(nodes: list[subprocess.Popen], marker: str) -> list[int]:
        import psutil

        found = []
        for process in node_processes(nodes):
            with contextlib.suppress(psutil.Error):
                if marker in " ".join(process.cmdline()):
                    found.append(process.pid)
        return found

    return find


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
