"""Batch captioning on the local pool against Ray Data on this machine, and what a resumed rerun costs.

    .venv/bin/python benchmarks/bench_batch.py [--clips 200] [--workers 2] [--skip-ray]

Clips: ``--clips`` scenes of the held-out prompts of ``sora_synth.splits`` (a seed stream of their own), rendered by
``sora-synth`` and written as MP4 files with ``sora_core.video_io`` into a temporary folder. Each is captioned by
the ``v2t`` template through :func:`sora_core.batch.run_batch` and the worker builder of ``sora caption DIR --out``
(:func:`sora_core.cli.batch_commands.build_understander`), three ways, each with a work folder of its own:

- in this process (``--workers 1``, the command's default): the baseline for the captions;
- the local pool (:class:`sora_core.batch.LocalPool`, ``--workers`` spawned processes);
- Ray Data (:class:`sora_core.batch_ray.RayExecutor`, ``--ray local``: a Ray started in this process, with
  ``--workers`` actors of one thread each).

Printed for each: seconds, clips per second and the ratio to the local pool; where the time goes (Ray's start,
building a pipeline, the clips themselves per worker, and what is left: spawning, scheduling, moving results);
whether the captions equal the baseline's. Then the resume check: each batch run again on its finished work
folder must skip every clip, and how long that takes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sora_synth.scene import render_tensor
from sora_synth.splits import heldout_prompts

from sora_core.batch import BatchResult, Executor, InProcess, LocalPool, Parts, item_key, run_batch
from sora_core.cli.batch_commands import build_understander
from sora_core.errors import SoraError
from sora_core.video_io import to_frames, write_video

SCENES = 0xBA7C
CONFIG: dict[str, Any] = {
    "command": "caption",
    "template": "v2t",
    "seed": 0,
    "swaps": [],
    "settings": [],
    "strict": False,
    "question": None,
    "device": None,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=200, help="clips to caption")
    parser.add_argument("--workers", type=int, default=2, help="local pool processes, and Ray actors")
    parser.add_argument("--skip-ray", action="store_true", help="only the in-process run and the local pool")
    return parser.parse_args(argv)


def make_clips(folder: Path, count: int) -> list[str]:
    """``count`` held-out scenes written as ``folder/0000.mp4``, ... (prompts in turn, a scene seed per clip)."""
    prompts = heldout_prompts()
    paths = []
    for number in range(count):
        scene = prompts[number % len(prompts)].scene(np.random.default_rng([SCENES, number]))
        paths.append(str(write_video(to_frames(render_tensor(scene)), folder / f"{number:04d}.mp4")))
    return paths


def worker_start() -> float:
    """Seconds a fresh Python process takes to import what a worker imports and build its pipeline."""
    code = (
        "import time; began = time.perf_counter()\n"
        "from sora_core.cli.batch_commands import build_understander\n"
        f"build_understander({CONFIG!r}); print(time.perf_counter() - began)"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return float(output.split()[-1])


def run(name: str, executor: Executor, clips: list[str], work: Path) -> BatchResult:
    parts = Parts(work / f".{name}.parts", flag="--out")
    parts.prepare()
    keys = [item_key({"clip": clip}, CONFIG) for clip in clips]
    return run_batch(clips, keys, parts, build_understander, CONFIG, executor=executor, show=False)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a Ray of this process only: no token written to ~/.ray
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as temporary:
        work = Path(temporary)
        (work / "clips").mkdir()
        began = time.perf_counter()
        clips = make_clips(work / "clips", args.clips)
        print(f"batch: {len(clips)} clips rendered and written as MP4 in {time.perf_counter() - began:.1f} s")
        print(f"machine: {os.cpu_count()} CPU cores; --workers {args.workers}")
        try:
            began = time.perf_counter()
            build_understander(CONFIG)
        except SoraError as error:
            sys.exit(f"error: {error}")
        build = time.perf_counter() - began
        fresh = worker_start()
        print(f"building the v2t pipeline: {build:.2f} s here (imports done), {fresh:.2f} s in a fresh process")

        runs: list[tuple[str, Any, BatchResult]] = []
        executors: list[tuple[str, Any]] = [("in-process", InProcess()), ("local pool", LocalPool(args.workers))]
        if not args.skip_ray:
            from sora_core.batch_ray import RayExecutor

            executors.append(("ray", RayExecutor("local", args.workers)))
        for name, executor in executors:
            result = run(name.replace(" ", "-"), executor, clips, work)
            assert result.done == len(clips), f"{name}: {result.done} of {len(clips)} done"
            runs.append((name, executor, result))

        base = runs[0][2].records
        pool = runs[1][2].seconds
        print()
        print("| run | workers | seconds | clips/s | vs local pool | captions as in-process |")
        print("|---|---:|---:|---:|---:|---|")
        for name, _, result in runs:
            workers = 1 if name == "in-process" else args.workers
            same = [r["caption"] for r in result.records] == [r["caption"] for r in base]
            print(
                f"| {name} | {workers} | {result.seconds:.1f} | {len(clips) / result.seconds:.2f} | "
                f"{result.seconds / pool:.2f} | {'yes' if same else 'NO'} |"
            )

        print()
        print("where the time goes (seconds; per clip: mean of the items' own times):")
        for name, executor, result in runs:
            workers = 1 if name == "in-process" else args.workers
            per_clip = sum(r["seconds"] for r in result.records) / len(clips)
            clips_time = per_clip * len(clips) / workers
            ray_start = getattr(executor, "timings", {}).get("connect", 0.0)
            start = build if name == "in-process" else fresh
            rest = result.seconds - ray_start - start - clips_time
            print(
                f"  {name}: "
                + (f"Ray start {ray_start:.1f}, " if ray_start else "")
                + f"worker start {start:.1f} ({'build' if name == 'in-process' else 'imports + build, in parallel'}), "
                f"clips {clips_time:.1f} ({1000 * per_clip:.0f} ms each, {workers} at a time), rest {rest:.1f}"
            )

        print()
        print("resume: the same batch again on its finished work folder")
        for name, executor, _ in runs:
            result = run(name.replace(" ", "-"), executor, clips, work)
            verdict = "PASS" if (result.done, result.skipped) == (0, len(clips)) else "FAIL"
            print(f"  {name}: {result.done} done, {result.skipped} skipped in {result.seconds:.3f} s  {verdict}")
        for _, executor, _ in runs:
            if hasattr(executor, "shutdown"):
                executor.shutdown()


if __name__ == "__main__":
    main()
