"""sora-diffusers against diffusers itself: seconds per video on the same folders, and loading ~1 GB of weights.

**Videos.** For each family (Wan, CogVideoX, LTX-Video) the script writes a tiny random folder with
``sora_diffusers.tiny.write_tiny_folder``, imports it as a sora pipeline (``import_spec`` + ``with_changes``: 9
frames of 16x16, 32x32 for LTX-Video, ``--steps`` steps, guidance 5, negative prompt "blurry") and loads the
same folder with the family's diffusers pipeline (``WanPipeline``, ``CogVideoXPipeline``, ``LTXPipeline``). Both
draw the same noise (diffusers' generator is seeded with ``node_seed(seed, "sampler")``, the seed sora's sampler
node gets), and the script checks that both give the same video before timing. After three warm-up runs each,
every round times one sora run and one diffusers run, in an order alternated every round. Figures: the median
wall seconds per video of each, the median of the per-round ratios sora / diffusers (target <= 1.02), and the
per-step overhead ``(sora - diffusers) / steps`` in ms (the median per-round difference: the whole run's
overhead spread over its steps, negative when sora is faster). The per-round ratio of process CPU time is shown
too: on a shared machine it is less disturbed by other work than wall time. Then a few instrumented runs split
each video into text encoding, denoiser forwards, the rest of the sampling loop, decoding and what is left
(sora: the executor around the nodes, measured with a node observer attached, which costs a little itself;
diffusers: post-processing), and time sora's per-run fixed costs (``Pipeline.bind_components`` and the fresh
library schedulers the scheduler particle builds).

**Loading.** A ``WanTransformer3DModel`` of 248 M random float32 parameters (14 layers, 8 heads of 128, FFN
4096: 0.99 GB; ``--quick``: 2 layers, 0.19 GB) is saved once with diffusers' ``save_pretrained``
(``max_shard_size`` 300MB, ``--quick`` 60MB: four shards either way) into a temporary folder, whose files are
then read once so the page cache is warm. Each round runs three fresh subprocesses of this script, in an order
rotated every round; each imports the same modules (torch, diffusers, sora's registry, and resolves the
particle class, so discovery and the plugin's import are not timed) before measuring one of:

* ``sora``: ``registry.load("sora-diffusers:wan-transformer", weights=FOLDER)``;
* ``diffusers``: ``WanTransformer3DModel.from_pretrained(FOLDER)`` (accelerate is installed: the model is built
  empty, then filled from the memory-mapped files);
* ``raw``: reading every byte of the same ``.safetensors`` files in 16 MiB chunks into one buffer.

"Loaded" means the same for sora and diffusers: the call returned and every tensor of the model's state dict
is readable in the process's memory. The child reads one element of every 4 KiB page of every tensor (summing
them into a checksum, which must come out the same for both), so pages a loader left memory-mapped are mapped
in and counted in RSS, while tensors a loader copied cost almost nothing more. The time runs from the call to
the end of that touch; throughput is the files' bytes over it. Neither loader copies the bytes (both keep the
memory-mapped pages), so they may beat the raw read, which copies every byte; what summing every element
afterwards would add is printed too, without a target. Peak RSS is the child's high-water mark at the end
minus its RSS just before the call (after the imports), relative to the weights' size (the files' bytes). The
high-water mark is ``VmHWM``, reset (``/proc/self/clear_refs``) just before the call: ``ru_maxrss`` of a child
started by a large parent already holds the parent's peak (Linux keeps the pre-exec memory's high-water mark
in it), so it is printed only for comparison. Targets: sora no slower than diffusers (median per-round ratio
<= 1), sora's throughput >= 80% of the raw read's, sora's peak RSS <= 1.1x the weights.

Everything runs with ``--threads`` intra-op threads (default 1: the video models are tiny, so the figures are
about the Python around them, and with two threads on a shared 2-core machine every parallel op, the rotary
tables of the model built at load time included, can stall for tens of ms when another process holds a core).
The temporary folders are removed at the end. About 1.5 minutes on 2 cores (``--quick``: under 1).

    .venv/bin/python benchmarks/bench_diffusers.py [--quick] [--steps 10] [--rounds 30] [--load-rounds 5]
                                                   [--threads 1] [--families wan,cogvideox,ltx] [--strict]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch

FAMILIES = ("wan", "cogvideox", "ltx")
PARTICLE = "sora-diffusers:wan-transformer"
VIDEO_TARGET = 1.02  # sora may take at most 2% longer per video than diffusers
LOAD_TARGET = 1.0  # sora's load no slower than diffusers'
RAW_TARGET = 0.8  # sora's load throughput at least 80% of reading the files
RSS_TARGET = 1.1  # sora's peak RSS at most 1.1x the weights
PROMPT, NEGATIVE, SEED = "a red ball", "blurry", 7
PAGE = 4096
CHUNK = 16 << 20
#: ~250 M float32 parameters at 14 layers (0.99 GB); 2 layers for --quick (0.19 GB).
BIG_WAN: dict[str, Any] = {
    "patch_size": (1, 2, 2),
    "num_attention_heads": 8,
    "attention_head_dim": 128,
    "in_channels": 16,
    "out_channels": 16,
    "text_dim": 4096,
    "freq_dim": 256,
    "ffn_dim": 4096,
    "cross_attn_norm": True,
    "qk_norm": "rms_norm_across_heads",
}


def quiet_libraries() -> None:
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    for logging in (diffusers_logging, transformers_logging):
        logging.set_verbosity_error()
        logging.disable_progress_bar()


# --- videos ---------------------------------------------------------------------------------------------------


def family_pipelines(family: str, folder: Path, steps: int, guidance: float) -> tuple[Any, Callable[[], Any], Any]:
    """The sora pipeline, a call running the diffusers pipeline the same way, and the diffusers pipeline."""
    import diffusers

    from sora_core import registry
    from sora_core.importers import import_spec, importer_for_folder
    from sora_core.pipeline import Pipeline
    from sora_core.pipeline.execute import node_seed
    from sora_core.pipeline.pipeline import with_changes

    size = 32 if family == "ltx" else 16
    spec = import_spec(importer_for_folder(folder, registry.default_registry), folder)
    settings = {
        "sampler": {"frames": 9, "height": size, "width": size, "guidance_scale": guidance},
        "scheduler": {"steps": steps},
        "prompts": {"negative_prompt": NEGATIVE},
    }
    pipe = Pipeline.from_spec(with_changes(spec, registry.default_registry, settings=settings))
    classes = {"wan": diffusers.WanPipeline, "cogvideox": diffusers.CogVideoXPipeline, "ltx": diffusers.LTXPipeline}
    reference = classes[family].from_pretrained(folder)
    reference.set_progress_bar_config(disable=True)

    def run_diffusers() -> Any:
        generator = torch.Generator().manual_seed(node_seed(SEED, "sampler"))
        return reference(
            PROMPT,
            negative_prompt=NEGATIVE,
            num_inference_steps=steps,
            guidance_scale=guidance,
            generator=generator,
            max_sequence_length=16,
            output_type="pt",
            height=size,
            width=size,
            num_frames=9,
        ).frames

    return pipe, run_diffusers, reference


class Stopwatch:
    """Wraps callables (as instance attributes) and adds up the time spent in them."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._wrapped: list[tuple[Any, str]] = []

    def wrap(self, owner: Any, attribute: str, label: str) -> None:
        original = getattr(owner, attribute)
        self.seconds.setdefault(label, 0.0)
        self.calls.setdefault(label, 0)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - start
                self.calls[label] += 1

        setattr(owner, attribute, timed)
        self._wrapped.append((owner, attribute))

    def unwrap(self) -> None:
        for owner, attribute in self._wrapped:
            delattr(owner, attribute)
        self._wrapped.clear()


class NodeSeconds:
    """A pipeline observer adding up each node's seconds over the runs it sees."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def sora_after_node(self, pipeline: Any, node: str, particle: Any, outputs: Any, seconds: float) -> None:
        self.seconds[node] = self.seconds.get(node, 0.0) + seconds


def breakdown(pipe: Any, run_sora: Callable[[], Any], reference: Any, run_diffusers: Callable[[], Any], runs: int):
    """Milliseconds per video of each phase, for sora and diffusers, from ``runs`` instrumented runs each."""
    sora_watch, diffusers_watch, nodes = Stopwatch(), Stopwatch(), NodeSeconds()
    sora_watch.wrap(pipe.nodes["transformer"].model, "forward", "denoiser")
    sora_watch.wrap(pipe, "bind_components", "bind_components")
    sora_watch.wrap(pipe.nodes["scheduler"], "library", "library_scheduler")
    diffusers_watch.wrap(reference.transformer, "forward", "denoiser")
    diffusers_watch.wrap(reference, "encode_prompt", "text")
    diffusers_watch.wrap(reference.vae, "decode", "decode")
    diffusers_watch.wrap(reference.video_processor, "postprocess_video", "postprocess")
    pipe.observe(nodes)
    sora_total = diffusers_total = 0.0
    try:
        for _ in range(runs):
            start = time.perf_counter()
            run_sora()
            middle = time.perf_counter()
            run_diffusers()
            sora_total += middle - start
            diffusers_total += time.perf_counter() - middle
    finally:
        sora_watch.unwrap()
        diffusers_watch.unwrap()
    per = 1000 / runs
    s, d, n = sora_watch.seconds, diffusers_watch.seconds, nodes.seconds
    text = sum(n.get(k, 0.0) for k in ("prompts", "tokenizer", "text_encoder"))
    sora = {
        "total": sora_total * per,
        "text": text * per,
        "denoiser": s["denoiser"] * per,
        "loop": (n["sampler"] - s["denoiser"]) * per,
        "decode": n["decoder"] * per,
        "other": (sora_total - sum(n.values())) * per,
        "bind_components": s["bind_components"] * per,
        "library_scheduler": s["library_scheduler"] * per,
        "library_scheduler_calls": sora_watch.calls["library_scheduler"] / runs,
    }
    diffusers = {
        "total": diffusers_total * per,
        "text": d["text"] * per,
        "denoiser": d["denoiser"] * per,
        "loop": (diffusers_total - d["text"] - d["denoiser"] - d["decode"] - d["postprocess"]) * per,
        "decode": d["decode"] * per,
        "other": d["postprocess"] * per,
    }
    return sora, diffusers


def bench_videos(family: str, root: Path, args: argparse.Namespace) -> dict[str, Any]:
    from sora_diffusers.tiny import write_tiny_folder

    folder = write_tiny_folder(family, root / family)
    pipe, run_diffusers, reference = family_pipelines(family, folder, args.steps, 5.0)

    def run_sora() -> Any:
        return pipe.run({"prompt": [PROMPT]}, seed=SEED, progress=False)["video"]

    ours = (run_sora() / 2 + 0.5).clamp(0, 1).permute(0, 2, 1, 3, 4)
    theirs = run_diffusers()
    difference = float((ours - theirs).abs().max())
    for _ in range(3):  # warm-up: allocator, kernels, lazily built tables
        run_sora()
        run_diffusers()
    wall: dict[str, list[float]] = {"sora": [], "diffusers": []}
    cpu: dict[str, list[float]] = {"sora": [], "diffusers": []}
    calls = {"sora": run_sora, "diffusers": run_diffusers}
    for i in range(args.rounds):
        for name in ("sora", "diffusers") if i % 2 == 0 else ("diffusers", "sora"):
            start, start_cpu = time.perf_counter(), time.process_time()
            calls[name]()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    sora_phases, diffusers_phases = breakdown(pipe, run_sora, reference, run_diffusers, args.breakdown_runs)
    pairs = list(zip(wall["sora"], wall["diffusers"], strict=True))
    return {
        "family": family,
        "difference": difference,
        "sora_s": statistics.median(wall["sora"]),
        "diffusers_s": statistics.median(wall["diffusers"]),
        "ratio": statistics.median(s / d for s, d in pairs),
        "step_overhead_ms": statistics.median(s - d for s, d in pairs) / args.steps * 1000,
        "cpu_ratio": statistics.median(s / d for s, d in zip(cpu["sora"], cpu["diffusers"], strict=True)),
        "sora_phases": sora_phases,
        "diffusers_phases": diffusers_phases,
    }


# --- loading --------------------------------------------------------------------------------------------------


def write_big_folder(directory: Path, layers: int, shard: str) -> int:
    """A random WanTransformer3DModel saved by diffusers (sharded); returns the weight files' total bytes."""
    from diffusers import WanTransformer3DModel

    with torch.device("meta"):
        model = WanTransformer3DModel(**BIG_WAN, num_layers=layers)
    model = model.to_empty(device="cpu")  # every stored tensor is filled below; nothing else is saved
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            tensor.normal_(0.0, 0.02, generator=generator)
    model.save_pretrained(directory, max_shard_size=shard)
    del model
    gc.collect()
    return sum(path.stat().st_size for path in weight_files(directory))


def weight_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.safetensors"))


def read_all(files: list[Path]) -> int:
    """Every byte of ``files``, read in 16 MiB chunks into one buffer; returns the bytes read."""
    buffer = memoryview(bytearray(CHUNK))
    total = 0
    for path in files:
        with open(path, "rb", buffering=0) as file:
            while count := file.readinto(buffer):
                total += count
    return total


def proc_status(field: str) -> int:
    """A ``/proc/self/status`` memory field (``VmRSS``, ``VmHWM``) in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def reset_peak_rss() -> bool:
    """Reset this process's RSS high-water mark (``VmHWM``) to its current RSS; False where Linux refuses."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def touch(module: torch.nn.Module) -> float:
    """Read one element of every 4 KiB page of every tensor of ``module``'s state dict; their sum."""
    total = 0.0
    with torch.no_grad():
        for tensor in module.state_dict().values():
            step = max(1, PAGE // tensor.element_size())
            total += float(tensor.reshape(-1)[::step].double().sum())
    return total


def child_load(method: str, folder: str, threads: int) -> int:
    """One load measurement in this (fresh) process; prints a ``RESULT {json}`` line.

    The peak is ``VmHWM`` after resetting it just before the call: ``ru_maxrss`` of a process started by a
    large parent already holds the parent's high-water mark (Linux keeps the pre-exec memory's peak in it),
    so it is reported only for comparison."""
    from diffusers import WanTransformer3DModel

    from sora_core import registry

    if threads > 0:
        torch.set_num_threads(threads)
    quiet_libraries()
    registry.get_class(PARTICLE)  # discovery and the plugin's import happen before the clock starts
    files = weight_files(Path(folder))
    gc.collect()
    before = proc_status("VmRSS")
    reset = reset_peak_rss()
    start = time.perf_counter()
    module: torch.nn.Module | None = None
    if method == "raw":
        read_all(files)
    elif method == "diffusers":
        module = WanTransformer3DModel.from_pretrained(folder)
    else:
        module = registry.load(PARTICLE, weights=folder).model  # type: ignore[attr-defined]
    returned = time.perf_counter()
    rss_returned = proc_status("VmRSS")
    checksum = touch(module) if module is not None else None
    end = time.perf_counter()
    peak = proc_status("VmHWM")
    if module is not None:  # not part of "loaded": what reading every byte once more would add
        with torch.no_grad():
            sum(float(tensor.sum()) for tensor in module.state_dict().values())
    summed = time.perf_counter()
    ru_maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    result = {
        "method": method,
        "seconds": end - start,
        "call_seconds": returned - start,
        "sum_seconds": summed - end,
        "before": before,
        "rss_returned": rss_returned - before,
        "peak": peak - before,
        "peak_reset": reset,
        "ru_maxrss": ru_maxrss - before,
        "checksum": checksum,
        "dtype": None if module is None else str(next(module.parameters()).dtype),
    }
    print("RESULT " + json.dumps(result), flush=True)
    return 0


def run_child(method: str, folder: Path, threads: int) -> dict[str, Any]:
    command = [sys.executable, os.path.abspath(__file__), "--child-load", method, "--folder", str(folder)]
    command += ["--threads", str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        raise RuntimeError(f"the {method} load child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(lines[-1].removeprefix("RESULT "))


def bench_loading(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    folder = root / "big" / "transformer"
    start = time.perf_counter()
    weights = write_big_folder(folder, 2 if args.quick else 14, "60MB" if args.quick else "300MB")
    written = time.perf_counter() - start
    read_all(weight_files(folder))  # warm the page cache
    methods = ["raw", "diffusers", "sora"]
    results: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
    for i in range(args.load_rounds):
        for method in methods[i % 3 :] + methods[: i % 3]:
            results[method].append(run_child(method, folder, args.threads))
    checksums = {m: {r["checksum"] for r in results[m]} for m in ("diffusers", "sora")}
    per_round = list(zip(results["sora"], results["diffusers"], results["raw"], strict=True))
    figures: dict[str, Any] = {
        "weights": weights,
        "files": len(weight_files(folder)),
        "written_s": written,
        "same_values": len(checksums["sora"]) == 1 and checksums["sora"] == checksums["diffusers"],
        "peak_reset": all(r["peak_reset"] for rs in results.values() for r in rs),
        "sora_over_diffusers": statistics.median(s["seconds"] / d["seconds"] for s, d, _ in per_round),
        "sora_over_raw_throughput": statistics.median(r["seconds"] / s["seconds"] for s, _, r in per_round),
    }
    for method in methods:
        figures[method] = {
            key: statistics.median(r[key] for r in results[method])
            for key in ("seconds", "call_seconds", "sum_seconds", "rss_returned", "peak", "ru_maxrss", "before")
        }
    return figures


# --- report ---------------------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report_videos(rows: list[dict[str, Any]], args: argparse.Namespace) -> bool:
    print(f"\n(a) seconds per video: 9 frames, 16x16 (LTX 32x32), {args.steps} steps, guidance 5, {args.rounds} rounds")
    print(
        f"{'family':<10}{'sora s':>9}{'diffusers s':>13}{'ratio':>8}{'cpu ratio':>11}{'ms/step over':>14}"
        f"{'max |diff|':>12}  target"
    )
    missed = False
    for row in rows:
        ok = row["ratio"] <= VIDEO_TARGET
        missed |= not ok
        print(
            f"{row['family']:<10}{row['sora_s']:>9.4f}{row['diffusers_s']:>13.4f}{row['ratio']:>8.3f}"
            f"{row['cpu_ratio']:>11.3f}{row['step_overhead_ms']:>14.2f}{row['difference']:>12.1e}"
            f"  <= {VIDEO_TARGET:.2f} {verdict(ok)}"
        )
    print(f"\nwhere the time goes, ms per video (mean of {args.breakdown_runs} instrumented runs each)")
    columns = ("total", "text", "denoiser", "loop", "decode", "other")
    print(f"{'family':<10}{'':<10}" + "".join(f"{c:>10}" for c in columns))
    for row in rows:
        for side in ("sora", "diffusers"):
            phases = row[f"{side}_phases"]
            print(f"{row['family']:<10}{side:<10}" + "".join(f"{phases[c]:>10.2f}" for c in columns))
        phases = row["sora_phases"]
        print(
            f"{'':<20}sora per run: bind_components {phases['bind_components']:.2f} ms, "
            f"{phases['library_scheduler_calls']:.0f} fresh library schedulers {phases['library_scheduler']:.2f} ms"
        )
    print(
        "text: prompts+tokenizer+encoder nodes / encode_prompt; loop: sampler node minus denoiser / the rest of "
        "the call; other: executor outside the nodes / post-processing"
    )
    return missed


def report_loading(figures: dict[str, Any]) -> bool:
    weights = figures["weights"]
    print(
        f"\n(b) loading a WanTransformer3DModel of {weights / 1e9:.3f} GB in {figures['files']} shards "
        f"(written in {figures['written_s']:.1f} s), warm page cache, fresh subprocess each, medians"
    )
    print(f"{'method':<11}{'seconds':>9}{'GB/s':>8}{'call s':>9}{'RSS at return':>15}{'peak RSS':>10}{'x weights':>11}")
    for method in ("raw", "diffusers", "sora"):
        f = figures[method]
        print(
            f"{method:<11}{f['seconds']:>9.3f}{weights / f['seconds'] / 1e9:>8.2f}{f['call_seconds']:>9.3f}"
            f"{f['rss_returned'] / 2**20:>12.0f} MiB{f['peak'] / 2**20:>6.0f} MiB{f['peak'] / weights:>11.3f}"
        )
    print(
        f"RSS after imports (subtracted): {figures['sora']['before'] / 2**20:.0f} MiB; peak = VmHWM reset before the "
        f"call: {figures['peak_reset']}; ru_maxrss - that (holds the parent's peak): "
        + ", ".join(f"{m} {figures[m]['ru_maxrss'] / 2**20:.0f} MiB" for m in ("raw", "diffusers", "sora"))
    )
    print(f"sora and diffusers loaded the same values (checksum of the touched elements): {figures['same_values']}")
    for method in ("diffusers", "sora"):
        f = figures[method]
        total = f["seconds"] + f["sum_seconds"]
        print(
            f"{method} then summing every element (every byte read, as the raw read does): {total:.3f} s, "
            f"{weights / total / 1e9:.2f} GB/s, {figures['raw']['seconds'] / total:.2f} x raw (no target)"
        )
    checks = [
        ("sora / diffusers seconds", figures["sora_over_diffusers"], LOAD_TARGET, True),
        ("sora / raw-read throughput", figures["sora_over_raw_throughput"], RAW_TARGET, False),
        ("sora peak RSS / weights", figures["sora"]["peak"] / weights, RSS_TARGET, True),
    ]
    missed = not figures["same_values"]
    for label, value, target, at_most in checks:
        ok = value <= target if at_most else value >= target
        missed |= not ok
        print(f"{label:<28}{value:>8.3f}  {'<=' if at_most else '>='} {target:.2f} {verdict(ok)}")
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, a ~200 MB model to load")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds per family (default 30; quick 10)")
    parser.add_argument("--breakdown-runs", type=int, default=None, help="instrumented runs (default 5; quick 2)")
    parser.add_argument("--load-rounds", type=int, default=None, help="rounds of the load subprocesses (5; quick 3)")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads (0: torch's default)")
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--skip-videos", action="store_true")
    parser.add_argument("--skip-loading", action="store_true")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--child-load", choices=("raw", "diffusers", "sora"), help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_load:
        return child_load(args.child_load, args.folder, args.threads)
    args.rounds = args.rounds or (10 if args.quick else 30)
    args.breakdown_runs = args.breakdown_runs or (2 if args.quick else 5)
    args.load_rounds = args.load_rounds or (3 if args.quick else 5)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    quiet_libraries()

    import diffusers

    print(
        f"torch {torch.__version__}, diffusers {diffusers.__version__}, {torch.get_num_threads()} intra-op threads, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start"
    )
    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="sora-bench-diffusers-"))
    missed = False
    try:
        if not args.skip_videos:
            rows = [bench_videos(f, root, args) for f in args.families.split(",")]
            missed |= report_videos(rows, args)
            for row in rows:
                if row["difference"] > 1e-4:
                    missed = True
                    print(f"FAIL: {row['family']}: sora's and diffusers' videos differ by {row['difference']:.1e}")
        if not args.skip_loading:
            missed |= report_loading(bench_loading(root, args))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\n{time.perf_counter() - started:.0f} s in all, load average {os.getloadavg()[0]:.1f} at the end")
    return 1 if (missed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
