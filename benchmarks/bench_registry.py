"""Registry server benchmark: catalog search latency with 10,000 particles, and uploads per second.

    .venv/bin/python benchmarks/bench_registry.py [--particles 10000] [--per-wheel 10] [--repeat 200]
                                                  [--concurrency 4] [--strict]

It starts ``sora-registry serve`` in a subprocess on a temporary data directory and a free port,
publishes ``--particles / --per-wheel`` synthetic plugin wheels through the upload API (half one at
a time, half from ``--concurrency`` client threads), then times each catalog query ``--repeat``
times, round-robin, after a warm-up round. Baselines measured in the same run:

* a bare ``GET /healthz`` round trip (same client, same server, a catalog ping and nothing else),
  against which each search's median latency is given as a ratio;
* copying the same wheel files (with ``fsync``, as the server does) with ``shutil``: files/s,
  the median of three rounds (before the uploads, after them, after the queries; fsync latency
  varies a lot on a shared disk), against which uploads/s are given as a ratio.

Then it uploads ``--large-count`` wheels carrying ``--large-mb`` MB of safetensors weights each
(hashed in transit, checked against RECORD and the weights manifest, copied into place) and gives
their MB/s against copying the same files with ``fsync``.

Targets (``--strict`` exits 1 when one is missed): every search's median under 25 ms and under
15 x the healthz round trip; sequential uploads above 20 per second.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

from sora_registry import tokens
from sora_registry.service import RegistryService
from sora_registry.settings import Settings
from sora_registry.testing import ParticleSpec, free_port, plugin_wheel, request, upload

KINDS = [
    "text_encoder", "tokenizer", "image_encoder", "video_encoder", "video_decoder", "patchifier",
    "cross_modal_attention", "denoiser", "scheduler", "video_generator", "captioner", "summarizer",
]  # fmt: skip
WIDTHS = [128, 256, 384, 512, 768, 1024, 1280, 2048]
FAMILIES = ["minilm-l6", "bert-base", "t5-small", "clip-b32", "seed-lstm", "umt5", "llama-3b", "siglip"]
SEARCH_MAX_MS = 25.0
SEARCH_MAX_RATIO = 15.0
UPLOADS_MIN_PER_S = 20.0


def particle(index: int) -> ParticleSpec:
    """A varied particle: kind, widths, spaces and port names cycle with different periods."""
    kind = KINDS[index % len(KINDS)]
    width = WIDTHS[index % len(WIDTHS)]
    family = FAMILIES[(index // 3) % len(FAMILIES)]
    text_space = f"text/{family}-{index % 7}@1"
    latent = f"latent/vae-{index % 13}@1"
    inputs = {
        "tokens": {"dtype": "int64", "shape": "B L"},
        "latent": {"dtype": "float", "shape": "B c t h w", "space": latent},
    }
    outputs = {
        "embeddings": {"dtype": ("float32", "float16", "bfloat16")[index % 3], "shape": f"B L D={width}",
                       "space": text_space},
        "pooled": {"dtype": "float32", "shape": f"B D={width}", "space": text_space},
    }  # fmt: skip
    if index % 5 == 0:
        inputs["context"] = {"dtype": "float", "shape": "B L D", "space": "text/*"}
    description = f"synthetic {kind.replace('_', ' ')} number {index}, {family} family, width {width}"
    return ParticleSpec(f"p{index:05d}-{family}", kind, description, inputs, outputs)


def write_wheels(directory: Path, particles: int, per_wheel: int) -> list[Path]:
    wheels = []
    for w in range(particles // per_wheel):
        specs = [particle(w * per_wheel + i) for i in range(per_wheel)]
        wheels.append(plugin_wheel(directory / str(w), f"bench-plugin-{w:04d}", specs, version="1.0.0"))
    return wheels


def large_wheels(directory: Path, count: int, megabytes: int) -> list[Path]:
    """Plugin wheels each shipping one ``megabytes`` MB safetensors file (random float32 bytes) and its manifest."""
    wheels = []
    for w in range(count):
        values = megabytes * 250_000
        header = json.dumps({"weight": {"dtype": "F32", "shape": [values], "data_offsets": [0, values * 4]}}).encode()
        weights = struct.pack("<Q", len(header)) + header + os.urandom(values * 4)
        listed = {"model.safetensors": {"sha256": hashlib.sha256(weights).hexdigest(), "size": len(weights)}}
        prefix = f"bench_large_{w:02d}/weights/big"
        files = {f"{prefix}/model.safetensors": weights, f"{prefix}/manifest.json": json.dumps(
            {"format": 1, "files": listed}).encode()}  # fmt: skip
        wheels.append(plugin_wheel(directory / str(w), f"bench-large-{w:02d}", [particle(w)], extra_files=files))
    return wheels


def start_server(data: Path) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    command = [sys.executable, "-m", "sora_registry.cli", "serve", "--data", str(data), "--port", str(port),
               "--log-level", "warning", "--max-upload-size", "1GB"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if request(f"{url}/healthz", timeout=5).status == 200:
                return process, url
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the registry did not start: {process.communicate()[1]}") from None
            time.sleep(0.05)


def publish_all(url: str, wheels: list[Path], secret: str, concurrency: int) -> tuple[float, float]:
    """Upload half the wheels one at a time, half from ``concurrency`` threads; uploads/s of each half."""
    half = len(wheels) // 2

    def send(wheel: Path) -> None:
        reply = upload(url, wheel, secret)
        if reply.status != 201:
            raise SystemExit(f"upload of {wheel.name} failed: {reply.status} {reply.text}")

    start = time.perf_counter()
    for wheel in wheels[:half]:
        send(wheel)
    sequential = half / (time.perf_counter() - start)
    rest = wheels[half:]
    lock, position = threading.Lock(), [0]
    errors: list[BaseException] = []

    def worker() -> None:
        while True:
            with lock:
                if position[0] >= len(rest):
                    return
                wheel = rest[position[0]]
                position[0] += 1
            try:
                send(wheel)
            except BaseException as exc:
                errors.append(exc)
                return

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return sequential, len(rest) / (time.perf_counter() - start)


def copy_rate(wheels: list[Path], target: Path) -> float:
    """Files/s copying the wheels with fsync, as the server's store does."""
    target.mkdir()
    start = time.perf_counter()
    for wheel in wheels:
        destination = target / wheel.name
        shutil.copyfile(wheel, destination)
        with open(destination, "rb") as handle:
            os.fsync(handle.fileno())
    return len(wheels) / (time.perf_counter() - start)


def queries(url: str, particles: int, per_wheel: int) -> dict[str, Callable[[], object]]:
    probe = int(particles * 0.4321)
    probe_name, probe_dist = particle(probe).name, f"bench-plugin-{probe // per_wheel:04d}"

    def get(path: str, **params: str) -> Callable[[], object]:
        target = f"{url}{path}" + (f"?{urlencode(params)}" if params else "")

        def call() -> object:
            reply = request(target)
            if reply.status != 200:
                raise SystemExit(f"GET {target} failed: {reply.status} {reply.text[:300]}")
            return reply

        return call

    return {
        "GET /healthz (baseline)": get("/healthz"),
        "search: no filter (first 50)": get("/api/v1/particles"),
        f"search: q=p{probe:05d} (one name)": get("/api/v1/particles", q=f"p{probe:05d}"),
        "search: q=clip-b32 (1/8 of all)": get("/api/v1/particles", q="clip-b32"),
        "search: kind=denoiser": get("/api/v1/particles", kind="denoiser"),
        "search: space=text/minilm-l6-3@1": get("/api/v1/particles", space="text/minilm-l6-3@1"),
        "search: space=latent/vae-1*": get("/api/v1/particles", space="latent/vae-1*"),
        "search: port=pooled (name)": get("/api/v1/particles", port="pooled"),
        "search: port=out:float32[B L D=384]": get("/api/v1/particles", port="out:float32[B L D=384]"),
        "search: kind+space+port+q": get(
            "/api/v1/particles", kind="text_encoder", space="text/*", port="in:float[B c t h w]", q="family"
        ),
        f"search: offset={particles * 9 // 10}": get("/api/v1/particles", offset=str(particles * 9 // 10)),
        "particle metadata": get(f"/api/v1/particles/{probe_dist}/{probe_name}"),
        "HTML catalog page (/)": get("/"),
    }


def time_queries(calls: dict[str, Callable[[], object]], repeat: int) -> dict[str, list[float]]:
    for call in calls.values():  # warm-up round, discarded
        call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeat):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            samples[name].append((time.perf_counter() - start) * 1000)
    return samples


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--particles", type=int, default=10_000)
    parser.add_argument("--per-wheel", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--large-count", type=int, default=5, help="wheels with large weights to upload (default 5)")
    parser.add_argument("--large-mb", type=int, default=50, help="MB of weights in each (default 50)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sora-bench-registry-") as temporary:
        root = Path(temporary)
        wheels = write_wheels(root / "wheels", args.particles, args.per_wheel)
        service = RegistryService(Settings(root / "data"))
        new = tokens.generate()
        service.catalog.add_token(new.token_id, "bench", new.digest, "benchmark")
        service.close()
        process, url = start_server(root / "data")
        try:
            copy_rounds = [copy_rate(wheels, root / "copies-0")]
            sequential, concurrent = publish_all(url, wheels, new.secret, args.concurrency)
            copy_rounds.append(copy_rate(wheels, root / "copies-1"))
            total = request(f"{url}/api/v1/particles?limit=1").json()["total"]
            if total != args.particles:
                raise SystemExit(f"the catalog holds {total} particles, expected {args.particles}")
            samples = time_queries(queries(url, args.particles, args.per_wheel), args.repeat)
            copy_rounds.append(copy_rate(wheels, root / "copies-2"))
            copies = statistics.median(copy_rounds)
            big = large_wheels(root / "large", args.large_count, args.large_mb)
            big_bytes = sum(w.stat().st_size for w in big)
            start = time.perf_counter()
            for wheel in big:
                reply = upload(url, wheel, new.secret)
                if reply.status != 201:
                    raise SystemExit(f"upload of {wheel.name} failed: {reply.status} {reply.text}")
            big_upload_mb_s = big_bytes / 1e6 / (time.perf_counter() - start)
            big_copy_mb_s = copy_rate(big, root / "large-copies") * big_bytes / len(big) / 1e6
        finally:
            process.terminate()
            process.communicate(timeout=30)
        size = sum(w.stat().st_size for w in wheels) / len(wheels)

    baseline = statistics.median(samples["GET /healthz (baseline)"])
    print(f"sora-registry benchmark: {args.particles} particles in {len(wheels)} wheels (~{size / 1000:.1f} kB each), "
          f"{args.repeat} rounds; {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")  # fmt: skip
    print(f"\n{'request':<40} {'median ms':>10} {'p95 ms':>8} {'x healthz':>10}  target")
    failed = False
    for name, values in samples.items():
        median, p95 = statistics.median(values), percentile(values, 0.95)
        verdict = ""
        if name.startswith("search"):
            ok = median < SEARCH_MAX_MS and median / baseline < SEARCH_MAX_RATIO
            failed |= not ok
            verdict = "PASS" if ok else "FAIL"
        print(f"{name:<40} {median:>10.2f} {p95:>8.2f} {median / baseline:>10.1f}  {verdict}")
    ok = sequential > UPLOADS_MIN_PER_S
    failed |= not ok
    print(f"\nuploads/s, one at a time:           {sequential:8.1f}   ({sequential / copies:.4f} x file copies/s) "
          f"{'PASS' if ok else 'FAIL'} (> {UPLOADS_MIN_PER_S:g}/s)")  # fmt: skip
    print(f"uploads/s, {args.concurrency} concurrent clients:     {concurrent:8.1f}   ({concurrent / copies:.4f} x)")
    print(f"file copies/s with fsync (baseline): {copies:8.1f}   (median of 3 rounds: "
          + ", ".join(f"{c:.0f}" for c in copy_rounds) + ")")  # fmt: skip
    print(f"\nlarge uploads ({args.large_count} wheels of {big_bytes / len(big) / 1e6:.1f} MB): "
          f"{big_upload_mb_s:.1f} MB/s = {big_upload_mb_s / big_copy_mb_s:.3f} x copying them with fsync "
          f"({big_copy_mb_s:.1f} MB/s)")  # fmt: skip
    verdict = "some missed (FAIL above)" if failed else "all met"
    print(f"\ntargets (each search median < {SEARCH_MAX_MS:g} ms and < {SEARCH_MAX_RATIO:g} x healthz; "
          f"sequential uploads > {UPLOADS_MIN_PER_S:g}/s): {verdict}")  # fmt: skip
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
