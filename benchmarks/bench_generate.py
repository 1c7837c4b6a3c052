"""Seconds per video of the tuned text-to-video pipeline (``t2v-fast``) against the default (``t2v``), in one run.

For each size of ``--sizes`` (default 9x64x64 and 17x64x64) the script builds (seed 0) **old**, the ``t2v``
template (20 Euler steps with shift 3, guidance 4, 4 candidates, float32), and **new**, the ``t2v-fast`` template
that ``sora tune`` found (10 steps with shift 2, guidance 3.5, 2 candidates, bfloat16 where the machine has it;
``sora generate --fast``). Each is warmed up once, then ``--videos`` clips are generated alternately with the old
and the new pipeline (the same prompts and seeds), so both see the same load. Printed per size: the median seconds
per video of each, the ratio old / new, the new pipeline's time per node, and PASS/FAIL against the goals: new at
most half the old (ratio >= 2) and 17x64x64 in at most 2 s. Peak memory last.

    .venv/bin/python benchmarks/bench_generate.py [--videos 5] [--sizes 9x64x64,17x64x64] [--device cuda]

``--device`` runs the nodes there (as ``sora generate --device``); the 2 s goal is this 2-core CPU's.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
import warnings
from typing import Any

from sora_core import registry
from sora_core.errors import SoraError, SoraWarning
from sora_core.pipeline import Pipeline
from sora_core.pipeline.pipeline import placed_spec, template_spec, with_changes
from sora_core.pipeline.trace import Tracer

PROMPTS = ["a red circle moving right", "a small blue square moving up", "two green triangles bouncing"]
OLD, NEW = "t2v", "t2v-fast"
#: Goals: new at least this many times faster than old, and 17x64x64 within this many seconds.
TARGET_RATIO, TARGET_17_SECONDS = 2.0, 2.0


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def parse_sizes(text: str) -> list[tuple[int, int, int]]:
    sizes = []
    for item in text.split(","):
        try:
            frames, height, width = (int(part) for part in item.lower().split("x"))
        except ValueError:
            raise SystemExit(f"error: --sizes {item!r} is not FRAMESxHEIGHTxWIDTH (e.g. 17x64x64)") from None
        sizes.append((frames, height, width))
    return sizes


def build(size: tuple[int, int, int], template: str, device: str | None = None) -> Pipeline:
    frames, height, width = size
    spec, base_dir = template_spec(template, registry.default_registry)
    settings: dict[str, dict[str, Any]] = {"sampler": {"frames": frames, "height": height, "width": width}}
    spec = with_changes(spec, registry.default_registry, settings=settings)
    spec = placed_spec(spec, registry.default_registry, device, None)
    return Pipeline.from_spec(spec, seed=0, base_dir=base_dir)


def describe(pipe: Pipeline) -> str:
    sampler, scheduler = pipe.nodes["sampler"].config, pipe.nodes["scheduler"]
    return (
        f"{scheduler.config.steps} steps of {scheduler.registered_name} (shift {scheduler.config.shift}), guidance "
        f"{sampler.guidance_scale}, {sampler.candidates} candidate(s), compute {sampler.compute_dtype}"
    )


def measure(size: tuple[int, int, int], videos: int, device: str | None) -> tuple[float, float, dict[str, float]]:
    """Median seconds per video of the old and the new pipeline at ``size``, and the new one's per node."""
    old, new = build(size, OLD, device), build(size, NEW, device)
    tracer = Tracer()
    new.observe(tracer)
    print(f"  old: {describe(old)}\n  new: {describe(new)}")
    times: dict[str, list[float]] = {"old": [], "new": []}
    nodes: dict[str, list[float]] = {}
    for pipe in (old, new):
        pipe.run({"prompt": [PROMPTS[0]]}, seed=0)  # warm-up
    for index in range(videos):
        for label, pipe in (("old", old), ("new", new)):
            start = time.perf_counter()
            pipe.run({"prompt": [PROMPTS[index % len(PROMPTS)]]}, seed=index)
            times[label].append(time.perf_counter() - start)
        for name, record in tracer.nodes.items():
            nodes.setdefault(name, []).append(record.seconds)
    return (
        statistics.median(times["old"]),
        statistics.median(times["new"]),
        {name: statistics.median(seconds) for name, seconds in nodes.items()},
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=5, help="videos per pipeline and size (after one warm-up)")
    parser.add_argument("--sizes", default="9x64x64,17x64x64", help="FRAMESxHEIGHTxWIDTH, comma-separated")
    parser.add_argument("--device", help="run the nodes on this device (default: the CPU)")
    args = parser.parse_args()
    import torch

    before = peak_rss_mib()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads, {args.videos} videos each")
    passed = True
    for size in parse_sizes(args.sizes):
        print(f"t2v at {size[0]}x{size[1]}x{size[2]}:")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SoraWarning)  # sizes outside the trained range are warned about
                old, new, nodes = measure(size, args.videos, args.device)
        except SoraError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        ratio = old / new
        fast_enough = ratio >= TARGET_RATIO and (size != (17, 64, 64) or new <= TARGET_17_SECONDS)
        passed &= fast_enough
        goal = f"ratio >= {TARGET_RATIO}" + (f", new <= {TARGET_17_SECONDS} s" if size == (17, 64, 64) else "")
        print(
            f"  seconds per video: old {old:.3f}, new {new:.3f}, old / new {ratio:.2f}x  ({goal}: "
            f"{'PASS' if fast_enough else 'FAIL'})"
        )
        for name, seconds in nodes.items():
            print(f"    node {name:<14} {seconds:8.3f} s   {seconds / new:6.1%} of the new video")
    print(f"peak RSS: {peak_rss_mib():.0f} MiB ({before:.0f} MiB before building)")
    print("PASS" if passed else "FAIL")
    return 0


if __name__ == "__main__":
    sys.exit(main())
