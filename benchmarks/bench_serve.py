"""``sora serve`` under load: videos per second with dynamic batching against one job at a time, latency, 429s.

Starts the real server (``sora serve t2v``, the default template and weights) as a subprocess on a free port
twice, each with its own data folder: once with ``--max-batch 1`` (one job at a time: the baseline) and once
with ``--max-batch 8`` (dynamic batching). In each, ``--clients`` threads submit ``--jobs`` generations each
(``POST /v1/generations``, all with the server's default seed, so they may share a batch) and wait for each
with ``GET /v1/generations/ID?wait=30`` until it is done; throughput is finished videos over wall time,
latency is submit-to-done per job (p50, p95). Then the overload check on the batching server: ``--burst``
submissions at once against a queue of ``--max-queue``: how many were refused with 429 (and whether each
carried ``Retry-After``), and whether every accepted job finished (nothing lost). Prints the ratio and
PASS/FAIL against the target (>= 1.5x).

    .venv/bin/python benchmarks/bench_serve.py [--clients 8] [--jobs 2] [--burst 24] [--max-queue 8] [--device cuda]

``--device`` runs the servers' nodes there (``sora serve --device``).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx

TARGET_RATIO = 1.5
LONG_POLL_S = 30
PROMPTS = (
    "a red circle moving right",
    "a blue square moving left",
    "a green triangle moving up",
    "a yellow circle moving down",
    "a purple square bouncing",
    "a cyan triangle growing",
    "a white circle staying still",
    "an orange square moving right",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``sora serve`` in a subprocess, stopped by its PID when the block ends."""

    def __init__(self, data: Path, *flags: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "sora_core.cli.main", "serve", "t2v", "--port", str(self.port)]
        self.process = subprocess.Popen(
            [*command, "--data", str(data), *flags],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, "SORA_PROGRESS": "0"},
        )

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                said = self.process.stderr.read().decode() if self.process.stderr else ""
                raise SystemExit(f"sora serve exited: {said}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise SystemExit("sora serve did not start within 300 s")

    def __exit__(self, *exc: Any) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def wait_done(client: httpx.Client, job: str, timeout: float = 900.0) -> dict[str, Any]:
    """The job once it has ended, by long-polling (``?wait=``): the clients take no CPU from the sampler."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get(f"/v1/generations/{job}", params={"wait": LONG_POLL_S}).json()
        if state["status"] in ("done", "failed", "cancelled"):
            return state
    raise SystemExit(f"job {job} did not finish within {timeout:.0f} s")


def load(url: str, clients: int, jobs: int) -> tuple[float, list[float], list[int], int]:
    """Each of ``clients`` threads submits ``jobs`` generations, one after another, and waits for each: wall
    seconds, each job's latency, each job's batch size, and how many did not end done."""
    latencies: list[float] = []
    batches: list[int] = []
    failed = [0]
    lock = threading.Lock()

    def client_thread(number: int) -> None:
        with httpx.Client(base_url=url, timeout=LONG_POLL_S + 60) as client:
            for k in range(jobs):
                prompt = PROMPTS[(number + k) % len(PROMPTS)]
                began = time.perf_counter()
                answer = client.post("/v1/generations", json={"prompt": prompt})
                answer.raise_for_status()
                state = wait_done(client, answer.json()["id"])
                if state["status"] == "done":
                    client.get(state["video"]).raise_for_status()
                with lock:
                    latencies.append(time.perf_counter() - began)
                    batches.append(int((state.get("batch") or {}).get("size", 1)))
                    failed[0] += state["status"] != "done"
                    if state["status"] != "done" and failed[0] == 1:
                        print(f"first failed job: {state.get('error')} ({state.get('hint')})", flush=True)

    threads = [threading.Thread(target=client_thread, args=(i,)) for i in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began, latencies, batches, failed[0]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def burst(url: str, count: int) -> tuple[int, int, int, int]:
    """``count`` submissions at once: accepted, refused with 429, 429s without Retry-After, accepted not done."""
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def submit(number: int) -> None:
        response = httpx.post(f"{url}/v1/generations", json={"prompt": PROMPTS[number % len(PROMPTS)]}, timeout=60)
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    accepted = [a.json()["id"] for a in answers if a.status_code == 202]
    refused = [a for a in answers if a.status_code == 429]
    unexpected = [a.status_code for a in answers if a.status_code not in (202, 429)]
    if unexpected:
        raise SystemExit(f"burst: unexpected statuses {unexpected}")
    with httpx.Client(base_url=url, timeout=LONG_POLL_S + 60) as client:
        lost = sum(wait_done(client, job)["status"] != "done" for job in accepted)
    return len(accepted), len(refused), sum("retry-after" not in a.headers for a in refused), lost


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=2, help="generations per client")
    parser.add_argument("--burst", type=int, default=24, help="submissions at once in the overload check")
    parser.add_argument("--max-queue", type=int, default=8, help="the server's queue in the overload check")
    parser.add_argument("--device", help="the servers' --device (default: theirs, the CPU)")
    args = parser.parse_args(argv)
    placed = ("--device", args.device) if args.device else ()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        for name, batch in (("one at a time", 1), ("dynamic batching", 8)):
            flags = ("--max-batch", str(batch), "--batch-wait", "100", *placed)
            with Server(Path(tmp) / name.replace(" ", "-"), *flags) as server:
                seconds, latencies, batches, failed = load(server.url, args.clients, args.jobs)
            videos = len(latencies) - failed
            rows.append((name, videos / seconds, latencies, batches, failed))
            print(
                f"{name:<17} {videos} videos in {seconds:6.1f} s: {videos / seconds:.3f} videos/s, latency p50 "
                f"{percentile(latencies, 0.5):5.1f} s p95 {percentile(latencies, 0.95):5.1f} s, mean batch "
                f"{statistics.mean(batches):.1f}, failed {failed}",
                flush=True,
            )
        ratio = rows[1][1] / rows[0][1]
        print(f"throughput with dynamic batching / one at a time: {ratio:.2f}x (target >= {TARGET_RATIO}x)")
        flags = ("--max-batch", "8", "--max-queue", str(args.max_queue), *placed)
        with Server(Path(tmp) / "overload", *flags) as server:
            accepted, refused, bare, lost = burst(server.url, args.burst)
        print(
            f"overload: {args.burst} submitted at once against a queue of {args.max_queue}: {accepted} accepted, "
            f"{refused} refused with 429 ({refused - bare} with Retry-After), accepted but not done: {lost}"
        )
    ok = ratio >= TARGET_RATIO and lost == 0 and bare == 0 and all(row[4] == 0 for row in rows)
    print("PASS" if ok else "FAIL")


if __name__ == "__main__":
    main()
