"""Batch jobs on a real Ray cluster (``--ray HOST:PORT``): a head node and a worker node of one CPU each, started
here in a private temporary folder and ended by their process groups. The output is the local run's; a rerun
skips what is done; an actor killed in the middle of a batch still leaves every clip in the output exactly once."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray", reason="the Ray executor needs pip install 'sora-core[ray]'")
psutil = pytest.importorskip("psutil")
for plugin in ("sora_understand", "sora_text", "sora_vae"):
    pytest.importorskip(plugin, reason="the batch commands run the v2t template")

from sora_core.cli.main import main  # noqa: E402
from sora_core.video_io import write_video  # noqa: E402

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


def node_processes(nodes: list[subprocess.Popen]) -> list[psutil.Process]:
    found = []
    for node in nodes:
        with contextlib.suppress(psutil.Error):
            found += psutil.Process(node.pid).children(recursive=True)
    return found


def in_group(pgid: int) -> list[int]:
    """The processes still in process group ``pgid`` (what a node left running)."""
    left = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                left.append(process.pid)
    return left


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[str, list[subprocess.Popen]]]:
    """A two-node cluster (one CPU each) on a free loopback port: its address and its two ``ray start`` processes."""
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


def square(colour: tuple[int, int, int], frames: int = 5) -> np.ndarray:
    video = np.full((frames, 64, 64, 3), 8, dtype=np.uint8)
    for t in range(frames):
        video[t, 24:42, 6 + 3 * t : 24 + 3 * t] = colour
    return video


def clips(root: Path, count: int) -> Path:
    folder = root / "clips"
    folder.mkdir()
    for number in range(count):
        write_video(square((220, 40, 40) if number % 2 else (50, 90, 235)), folder / f"{number:03d}.mp4")
    return folder


def summary(err: str) -> str:
    (line,) = [line for line in err.splitlines() if " done, " in line]
    return line


def test_a_caption_batch_on_ray_writes_what_a_local_run_writes_and_resumes(tmp_path: Path, capsys, cluster) -> None:
    address, _ = cluster
    folder = clips(tmp_path, 4)
    local, remote = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    assert main(["caption", str(folder), "--out", str(local)]) == 0
    capsys.readouterr()
    assert main(["caption", str(folder), "--out", str(remote), "--ray", address]) == 0
    err = capsys.readouterr().err
    assert summary(err).startswith("caption: 4 done, 0 skipped, 0 failed ("), err
    assert "core_worker" not in err and "Traceback" not in err, err
    assert remote.read_text() == local.read_text()

    assert main(["caption", str(folder), "--out", str(remote), "--ray", address]) == 0  # a rerun runs nothing
    assert summary(capsys.readouterr().err).startswith("caption: 0 done, 4 skipped, 0 failed (")
    assert remote.read_text() == local.read_text()


def test_a_ray_actor_killed_mid_batch_leaves_every_clip_once(tmp_path: Path, capsys, cluster, kill_mid_batch) -> None:
    address, nodes = cluster
    count = 10
    folder, out = clips(tmp_path, count), tmp_path / "captions.jsonl"
    parts = tmp_path / ".captions.jsonl.parts"

    def actors() -> list[int]:  # the processes of the actor pool, on either node
        found = []
        for process in node_processes(nodes):
            with contextlib.suppress(psutil.Error):
                if "MapWorker" in " ".join(process.cmdline()):
                    found.append(process.pid)
        return found

    with kill_mid_batch(parts, actors) as killed:
        assert main(["caption", str(folder), "--out", str(out), "--ray", address, "--workers", "2"]) == 0
    assert killed, "no Ray actor was found to kill"
    err = capsys.readouterr().err
    assert summary(err).startswith(f"caption: {count} done, 0 skipped, 0 failed ("), err
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["clip"] for r in records] == [str(folder / f"{n:03d}.mp4") for n in range(count)]
    for number, record in enumerate(records):
        assert f"{'red' if number % 2 else 'blue'} square moving right" in record["caption"], record
    assert len(list(parts.iterdir())) == count
