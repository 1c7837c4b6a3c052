"""Batch jobs on a real Ray cluster (``--ray HOST:PORT``): a head node and a worker node of one CPU each (the
``cluster`` fixture of conftest.py). The output is the local run's; a rerun
skips what is done; an actor killed in the middle of a batch still leaves every clip in the output exactly once."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray", reason="the Ray executor needs pip install 'sora-core[ray]'")
psutil = pytest.importorskip("psutil")
for plugin in ("sora_understand", "sora_text", "sora_vae"):
    pytest.importorskip(plugin, reason="the batch commands run the v2t template")

from sora_core.cli.main import main  # noqa: E402
from sora_core.video_io import write_video  # noqa: E402


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


def test_a_ray_actor_killed_mid_batch_leaves_every_clip_once(
    tmp_path: Path, capsys, cluster, kill_mid_batch, ray_processes
) -> None:
    address, nodes = cluster
    count = 10
    folder, out = clips(tmp_path, count), tmp_path / "captions.jsonl"
    parts = tmp_path / ".captions.jsonl.parts"

    def actors() -> list[int]:  # the processes of the actor pool, on either node
        return ray_processes(nodes, "MapWorker")

    with kill_mid_batch(parts, actors) as killed:
        assert main(["caption", str(folder), "--out", str(out), "--ray", address, "--workers", "2"]) == 0
    assert killed, "no Ray actor was found to kill"
    err = capsys.readouterr().err
    assert summary(err).startswith(f"caption: {count} done, 0 skipped, 0 failed ("), err
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["clip"] for r in records] == [str(folder / f"{n:03d}.mp4") for n in range(count)]
    for number, record in enumerate(records):
        assert f"{'red' if number % 2 else 'blue'} square moving right" in record["caption"], record
    assert len(list(parts.glob("*.json"))) == count
