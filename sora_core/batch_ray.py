"""Batch jobs on a Ray cluster: the items of :func:`sora_core.batch.run_batch` on Ray Data, beside the in-process
and local-pool executors (``--ray auto|local|ADDRESS``).

The items go out as a dataset of one item per block, through ``map_batches`` onto a fixed pool of actors, each of
which builds its pipeline once (:class:`_Actor`) and answers one item at a time. The driver (the ``sora``
process) reads the results as they stream back and writes each item's part itself, keyed as a local run keys it,
so resumability, the parts and the output are exactly the local ones and every item is in the output once,
whatever Ray retried. A worker that dies is Ray's to handle: the actor is restarted (``max_restarts``) and its
item tried again (``max_task_retries``); an item whose every try died is dropped by Ray Data
(``max_errored_blocks``) and recorded failed here with :func:`sora_core.batch.worker_died`.

Ray is optional (``pip install 'sora-core[ray]'``) and imported only when this executor runs. Its usage stats and
dashboard are off: a batch needs no network beyond the cluster's own.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sora_core.batch import MAX_ATTEMPTS, Builder, Processor, _outcome, worker_died
from sora_core.errors import ConfigError, SoraError

__all__ = ["RayConnection", "RayExecutor", "check_address"]

#: The install that brings Ray (Ray Data and its pinned version).
INSTALL = "pip install 'sora-core[ray]'"


def check_address(address: str) -> str:
    """``--ray ADDRESS`` checked: ``auto`` (a running cluster, as Ray finds it), ``local`` (a Ray started in this
    process) or ``HOST:PORT`` of a cluster's head; a ``ConfigError`` naming ``--ray`` otherwise."""
    address = address.strip()
    if address in ("auto", "local") or address.startswith("ray://"):
        return address
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(
            f"--ray {address!r} is not a cluster address",
            "give --ray auto (the running cluster), --ray local, or the head's HOST:PORT, e.g. --ray 10.0.0.5:6379",
        )
    return address


#: A log line of Ray's C++ core (``[2026-01-02 10:11:12,345 E 123 123] core_worker.cc:99: ...``).
_RAY_LOG_LINE = re.compile(rb"(?m)^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [DIWEF] \d+ \d+\] [^\n]*\n")


@contextmanager
def _without_ray_log_lines() -> Iterator[None]:
    """Keep the log lines Ray's C++ core writes on this process's stderr (file descriptor 2) off the command's
    stderr; everything else written there (the batch's progress, warnings) passes through as it is written."""
    sys.stderr.flush()
    saved = os.dup(2)
    read, write = os.pipe()
    os.dup2(write, 2)
    os.close(write)

    def forward() -> None:
        pending = b""
        while chunk := os.read(read, 65536):
            pending = _RAY_LOG_LINE.sub(b"", pending + chunk)
            start = pending.rfind(b"\n") + 1  # the last line, unfinished: when it may prove Ray's, it waits
            cut = start if pending.startswith(b"[", start) else len(pending)
            with contextlib.suppress(OSError):
                os.write(saved, pending[:cut])
            pending = pending[cut:]
        with contextlib.suppress(OSError):
            os.write(saved, pending)
        os.close(read)
        os.close(saved)

    thread = threading.Thread(target=forward, name="sora-ray-stderr", daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # the pipe ends when every process that inherited it has gone (a local Ray's, later)
        thread.join(timeout=2)


def _import_ray() -> Any:
    try:
        import ray
        import ray.data  # Ray Data comes with the extra, not with every ray install
    except ImportError:
        raise ConfigError("--ray needs Ray (with Ray Data), which is not installed", INSTALL) from None
    return ray


class _Actor:
    """One Ray actor: the job's pipeline built once (in the driver's working directory, so that the items' paths
    mean what they mean there), then one item a call. A failure to build is the job's, answered for each item."""

    def __init__(self, build: Builder, config: Any, cwd: str, threads: int) -> None:
        if os.path.isdir(cwd):
            os.chdir(cwd)
        import torch

        torch.set_num_threads(threads)
        self.process: Processor | None = None
        self.error: dict[str, Any] | None = None
        try:
            self.process = build(config)
        except SoraError as exc:
            self.error = {"error": exc.message, "hint": exc.hint}

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        statuses, answers = [], []
        for text in batch["item"]:
            if self.process is None:
                status, fields = "job-error", dict(self.error or {})
            else:
                try:
                    status, fields = _outcome(self.process, json.loads(text))
                except Exception as exc:  # a bug, not the item's: the driver stops the job with it
                    status, fields = "crash", {"error": f"{type(exc).__name__}: {exc}"}
            statuses.append(status)
            answers.append(json.dumps(fields))
        return {"index": np.asarray(batch["index"]), "status": np.array(statuses), "fields": np.array(answers)}


class RayConnection:
    """This process on the Ray cluster at ``address`` (``auto``, ``local`` or ``HOST:PORT``): :meth:`connect` joins
    it (``local``: starts a Ray in this process, in a short temporary folder of its own), :meth:`shutdown` leaves.

    ``timings["connect"]`` holds how long ``ray.init`` took."""

    def __init__(self, address: str) -> None:
        self.address = check_address(address)
        self.timings: dict[str, float] = {}
        self._temp: str | None = None  # the folder of a local Ray

    def connect(self) -> Any:
        """``ray.init`` (once): this process joins the cluster, or starts a local Ray for ``local``."""
        import time

        ray = _import_ray()
        if ray.is_initialized():
            return ray
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        started = time.perf_counter()
        options: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "logging_level": logging.ERROR,
            "configure_logging": True,
        }
        try:
            if self.address == "local":
                # a short folder of its own (Ray's socket paths under it are limited to 107 bytes), removed at the end
                self._temp = tempfile.mkdtemp(prefix="sora-ray-", dir="/tmp" if os.path.isdir("/tmp") else None)
                ray.init(_temp_dir=self._temp, **options)
            else:
                ray.init(address=self.address, **options)
        except (ConnectionError, RuntimeError, ValueError, OSError) as exc:
            raise ConfigError(
                f"--ray {self.address}: cannot connect to a Ray cluster: {str(exc).splitlines()[0]}",
                "start one (ray start --head) and give its address, or use --ray local",
            ) from None
        self.timings["connect"] = time.perf_counter() - started
        return ray

    def shutdown(self) -> None:
        """Leave the cluster (a local Ray is stopped); nothing when not connected."""
        try:
            import ray
        except ImportError:
            return
        if ray.is_initialized():
            ray.shutdown()
        if self._temp is not None:
            shutil.rmtree(self._temp, ignore_errors=True)
            self._temp = None


class RayExecutor(RayConnection):
    """Items on Ray Data: ``workers`` actors (default: one per CPU of the cluster), each holding a built pipeline
    and ``threads`` torch threads, on the cluster at ``address`` (``auto``, ``local`` or ``HOST:PORT``).

    ``timings`` holds where the time went: ``connect`` (``ray.init``) and ``run`` (the dataset, start to end)."""

    def __init__(self, address: str, workers: int | None = None, *, threads: int = 1) -> None:
        super().__init__(address)
        self.workers = workers
        self.threads = threads
        self.retried = 0  # Ray retries inside; what it retried is not reported back

    def run(self, build: Builder, config: Any, tasks: list[tuple[int, Any]]) -> Iterator[tuple[int, str, dict]]:
        with _without_ray_log_lines():
            yield from self._run(build, config, tasks)

    def _run(self, build: Builder, config: Any, tasks: list[tuple[int, Any]]) -> Iterator[tuple[int, str, dict]]:
        import time

        from sora_core.batch import BatchError

        ray = self.connect()
        from ray.data import ActorPoolStrategy, DataContext

        context = DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        context.max_errored_blocks = -1  # an item whose every try died is dropped, and recorded failed below
        logging.getLogger("ray.data").setLevel(logging.CRITICAL)
        workers = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        started = time.perf_counter()
        rows = [{"index": index, "item": json.dumps(item)} for index, item in tasks]
        with warnings.catch_warnings():  # Ray 2.60 asks for named remote parameters, and has none for retries
            warnings.simplefilter("ignore", DeprecationWarning)
            dataset = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
                _Actor,
                fn_constructor_args=(build, config, os.getcwd(), self.threads),
                batch_size=1,
                # one item at a time on each actor: a dead actor takes only its own item's try with it
                compute=ActorPoolStrategy(size=min(workers, len(rows)), max_tasks_in_flight_per_actor=1),
                num_cpus=self.threads,
                max_restarts=-1,  # a dead actor is always replaced ...
                max_task_retries=MAX_ATTEMPTS - 1,  # ... and its item tried again, MAX_ATTEMPTS times in all
            )
        seen: set[int] = set()
        try:
            for row in dataset.iter_rows():
                index, status = int(row["index"]), str(row["status"])
                if index in seen:  # a retried item answered twice: the first answer stands
                    continue
                fields = json.loads(str(row["fields"]))
                if status == "job-error":
                    raise BatchError(fields["error"], fields.get("hint"))
                if status == "crash":
                    raise BatchError(
                        f"a Ray worker stopped on {tasks_item(tasks, index)!r}: {fields['error']}",
                        "this is a bug; run the same batch without --ray to see where",
                    )
                seen.add(index)
                yield index, status, fields
        except ray.exceptions.RayError as exc:
            raise BatchError(
                f"the Ray job failed: {str(exc).splitlines()[0]}",
                "rerun it: the items done are kept; check the cluster with `ray status`",
            ) from None
        finally:
            self.timings["run"] = time.perf_counter() - started
        for index, _ in tasks:
            if index not in seen:  # every try of it died (Ray Data dropped its block)
                yield index, "failed", worker_died(MAX_ATTEMPTS)


def tasks_item(tasks: list[tuple[int, Any]], index: int) -> Any:
    """The item of task ``index``."""
    return next(item for number, item in tasks if number == index)
