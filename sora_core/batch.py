"""Resumable batch jobs: many items (prompts, clips) through one pipeline, each result kept as it is made.

A job is a list of items and the settings they all run with. Each item gets a *key*, a digest of the item
and of the settings (:func:`item_key`), and its result is written, atomically, as a small JSON *part* named
by that key in a hidden work folder beside the output (:class:`Parts`). A rerun of the same job finds the
parts of the items already done and skips them; failed items are run again; a changed item or changed
settings make another key, so a stale result is never reused. The output (a JSON Lines file) is assembled
from the parts at the end, atomically, in input order, with every item exactly once (:func:`write_jsonl`).

:func:`run_batch` runs the items: in-process with one worker, else on a pool of ``spawn``-ed processes, each
of which builds its pipeline once and processes many items. A :class:`~sora_core.errors.SoraError` raised
by one item is recorded with its message and the job goes on; one raised while building the pipeline stops
the job. Progress (items done, items per second, failures) is shown as :mod:`sora_core.progress` shows it,
and :func:`summary_line` is the one line a command prints at the end.

Torch is not imported here; a worker imports what its builder imports.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sora_core.atomic import atomic_write_text
from sora_core.errors import ConfigError, SoraError

__all__ = [
    "BatchError",
    "BatchResult",
    "Parts",
    "item_key",
    "run_batch",
    "summary_line",
    "worker_threads",
    "write_jsonl",
]

#: What a processor is: one item in, the fields of its record out (a SoraError for an item that fails).
Processor = Callable[[Any], dict[str, Any]]
#: What builds a processor, once per worker, from the job's plain (picklable) configuration.
Builder = Callable[[Any], Processor]


class BatchError(SoraError):
    """The whole batch job failed (its pipeline could not be built in a worker): nothing more was run."""


def item_key(item: Any, settings: Mapping[str, Any]) -> str:
    """A digest (20 hex digits) of ``item`` and the job's ``settings``, both plain JSON data: equal only for the
    same item run the same way, so a part under this key is a result that may be reused."""
    text = json.dumps({"item": item, "settings": settings}, sort_keys=True, default=str, ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


class Parts:
    """The work folder of a job: one JSON file per finished item (``KEY.json``), each written atomically.

    A part holds ``{"key", "status" ("done" or "failed"), "record"}``; :meth:`finished` reads back only a
    readable part of the right key whose status is ``done``, so an unreadable or failed part means "run it".
    """

    def __init__(self, folder: str | os.PathLike[str], *, flag: str) -> None:
        self.folder = Path(folder)
        self.flag = flag

    def prepare(self) -> None:
        """Create the folder (its parent must exist); a ``ConfigError`` naming ``flag`` when it cannot be."""
        if os.path.lexists(self.folder) and not self.folder.is_dir():
            raise ConfigError(
                f"{self.flag}: the work folder {self.folder} exists and is not a directory",
                "remove it, or write the output elsewhere",
            )
        try:
            self.folder.mkdir(exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"{self.flag}: cannot create the work folder {self.folder}: {exc.strerror or exc}",
                "write the output into a directory you can write to",
            ) from None

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def finished(self, key: str) -> dict[str, Any] | None:
        """The record of a part that is done under ``key``; ``None`` when there is none (or it failed)."""
        try:
            part = json.loads(self.path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(part, dict) or part.get("key") != key or part.get("status") != "done":
            return None
        record = part.get("record")
        return record if isinstance(record, dict) else None

    def write(self, key: str, status: str, record: Mapping[str, Any]) -> None:
        """Keep one item's result, atomically (a temporary name, then a rename)."""
        atomic_write_text(self.path(key), json.dumps({"key": key, "status": status, "record": dict(record)}) + "\n")

    def prune(self, keep: set[str]) -> None:
        """Remove the parts of items no longer in the job (other items or other settings)."""
        for path in self.folder.glob("*.json"):
            if path.stem not in keep:
                path.unlink(missing_ok=True)


def write_jsonl(target: str | os.PathLike[str], records: Sequence[Mapping[str, Any]]) -> Path:
    """Write one JSON object a line to ``target``, atomically."""
    return atomic_write_text(target, "".join(json.dumps(dict(record), ensure_ascii=False) + "\n" for record in records))


def worker_threads(workers: int) -> int:
    """Torch threads for each of ``workers`` processes: the CPU cores shared out, at least one each."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


class BatchResult:
    """What :func:`run_batch` did: ``records`` (one per item, in input order, each with ``status``), and how many
    items were ``done`` now, ``skipped`` (finished before), ``failed``, in ``seconds``."""

    def __init__(self, records: list[dict[str, Any]], done: int, skipped: int, failed: int, seconds: float) -> None:
        self.records = records
        self.done = done
        self.skipped = skipped
        self.failed = failed
        self.seconds = seconds

    @property
    def ok(self) -> bool:
        """Whether every item is done (now or before)."""
        return self.failed == 0


def summary_line(name: str, result: BatchResult, errors_in: str | os.PathLike[str]) -> str:
    """``NAME: 3 done, 1 skipped, 1 failed (4.2 s)``, naming where the errors are recorded when some failed."""
    line = f"{name}: {result.done} done, {result.skipped} skipped, {result.failed} failed ({result.seconds:.1f} s)"
    if result.failed:
        line += f"; the error of each failed item is recorded in {os.fspath(errors_in)}"
    return line


def _outcome(process: Processor, item: Any) -> tuple[str, dict[str, Any]]:
    """Run one item: ``("done", fields)``, or ``("failed", {"error": ..., "hint": ...})`` for a SoraError."""
    from sora_core.progress import quiet

    started = time.perf_counter()
    try:
        with quiet():  # the item's own progress (nodes, sampling steps) stays under the batch's bar
            fields = dict(process(item))
        status = "done"
    except SoraError as exc:
        fields = {"error": exc.message, **({"hint": exc.hint} if exc.hint else {})}
        status = "failed"
    fields["seconds"] = round(time.perf_counter() - started, 3)
    return status, fields


# --- the worker side of a pool ---------------------------------------------------------------------------

_worker: dict[str, Any] = {}


def _start_worker(build: Builder, config: Any, threads: int) -> None:
    """Pool initializer: remember how to build the processor (built on the first item, so that a failure to
    build is reported, not retried forever by the pool) and share the cores out."""
    _worker.update(build=build, config=config, threads=threads, process=None)


def _work(task: tuple[int, Any]) -> tuple[int, str, dict[str, Any]]:
    index, item = task
    if _worker.get("process") is None:
        try:
            import torch

            torch.set_num_threads(_worker["threads"])
        except ImportError:  # pragma: no cover - every pipeline needs torch
            pass
        try:
            _worker["process"] = _worker["build"](_worker["config"])
        except SoraError as exc:
            return index, "job-error", {"error": exc.message, "hint": exc.hint}
    status, fields = _outcome(_worker["process"], item)
    return index, status, fields


def _in_process(build: Builder, config: Any, tasks: list[tuple[int, Any]]) -> Iterator[tuple[int, str, dict]]:
    process = build(config)  # a SoraError here is the job's, raised as it is
    for index, item in tasks:
        status, fields = _outcome(process, item)
        yield index, status, fields


def _pooled(build: Builder, config: Any, tasks: list[tuple[int, Any]], workers: int) -> Iterator[tuple[int, str, dict]]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(build, config, worker_threads(workers)),
    )
    try:
        for future in as_completed([pool.submit(_work, task) for task in tasks]):
            try:
                index, status, fields = future.result()
            except BrokenProcessPool:
                raise BatchError(
                    "a worker process of the batch died (out of memory, or killed)",
                    "run it again: the items done are kept; fewer --workers need less memory",
                ) from None
            if status == "job-error":
                raise BatchError(fields["error"], fields.get("hint"))
            yield index, status, fields
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run_batch(
    items: Sequence[Any],
    keys: Sequence[str],
    parts: Parts,
    build: Builder,
    config: Any,
    *,
    workers: int = 1,
    description: str = "batch",
    show: bool | None = None,
    reuse: Callable[[int, dict[str, Any]], bool] | None = None,
) -> BatchResult:
    """Run every item not finished before through the processor ``build(config)`` makes; keep each result as a
    part under its key; return every item's record in input order.

    ``build`` and ``config`` must be picklable (a module-level function and plain data) when ``workers`` > 1:
    each of the ``workers`` spawned processes builds its processor once, on its first item, with the cores
    shared out (:func:`worker_threads`). ``reuse(index, record)``, when given, may refuse a finished part (its
    file has gone, say), which then runs again. Progress is shown per :func:`sora_core.progress.enabled`
    (``show`` forces it), with items per second and the failures so far.
    """
    from sora_core import progress

    if len(items) != len(keys):
        raise ValueError("one key per item")
    if workers < 1:
        raise ConfigError(f"--workers {workers} must be at least 1", "use --workers 1 to run in this process")
    started = time.perf_counter()
    records: dict[int, dict[str, Any]] = {}
    for index, key in enumerate(keys):
        record = parts.finished(key)
        if record is not None and (reuse is None or reuse(index, record)):
            records[index] = record
    skipped = len(records)
    tasks = [(index, item) for index, item in enumerate(items) if index not in records]
    done = failed = 0
    if tasks:
        workers = min(workers, len(tasks))
        run = _in_process(build, config, tasks) if workers == 1 else _pooled(build, config, tasks, workers)
        with progress.steps(len(tasks), description, show=show) as advance:
            for index, status, fields in run:
                record = {**fields, "status": status}
                parts.write(keys[index], status, record)
                records[index] = record
                done += status == "done"
                failed += status == "failed"
                rate = (done + failed) / max(time.perf_counter() - started, 1e-9)
                advance(f"{rate:.2f} items/s, {failed} failed")
    parts.prune(set(keys))
    ordered = [records[index] for index in range(len(items))]
    return BatchResult(ordered, done, skipped, failed, time.perf_counter() - started)
