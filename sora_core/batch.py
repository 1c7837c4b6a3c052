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

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from sora_core.atomic import atomic_write_text
from sora_core.errors import ConfigError, SoraError

__all__ = [
    "BatchError",
    "BatchResult",
    "Executor",
    "InProcess",
    "LocalPool",
    "Parts",
    "item_key",
    "run_batch",
    "summary_line",
    "worker_died",
    "worker_threads",
    "write_jsonl",
]

#: What a processor is: one item in, the fields of its record out (a SoraError for an item that fails).
Processor = Callable[[Any], dict[str, Any]]
#: What builds a processor, once per worker, from the job's plain (picklable) configuration.
Builder = Callable[[Any], Processor]


class Executor(Protocol):
    """Where the items of a batch run: :class:`InProcess`, :class:`LocalPool` or Ray's
    (:class:`sora_core.batch_ray.RayExecutor`). ``run`` yields ``(index, status, fields)`` per task, in any order,
    each task exactly once; ``retried`` counts the items run again because their worker died."""

    retried: int

    def run(self, build: Builder, config: Any, tasks: list[tuple[int, Any]]) -> Iterator[tuple[int, str, dict]]: ...


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

    def lock(self) -> contextlib.AbstractContextManager[None]:
        """Hold the folder for one job: a second job on the same output while this one runs is a ``ConfigError``
        naming ``flag`` (see :mod:`sora_core.folder_lock`)."""
        from sora_core.folder_lock import hold_folder

        refusal = f"{self.flag}: another batch job (process {{pid}}) is writing to {self.folder.parent}"
        return hold_folder(self.folder, refusal, "wait for it to end, or write the output elsewhere")

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
    items were ``done`` now, ``skipped`` (finished before), ``failed``, in ``seconds``; ``retried``: how many items
    ran again because the worker running them died."""

    def __init__(
        self, records: list[dict[str, Any]], done: int, skipped: int, failed: int, seconds: float, retried: int = 0
    ) -> None:
        self.records = records
        self.done = done
        self.skipped = skipped
        self.failed = failed
        self.seconds = seconds
        self.retried = retried

    @property
    def ok(self) -> bool:
        """Whether every item is done (now or before)."""
        return self.failed == 0


def summary_line(name: str, result: BatchResult, errors_in: str | os.PathLike[str]) -> str:
    """``NAME: 3 done, 1 skipped, 1 failed (4.2 s)``, naming where the errors are recorded when some failed."""
    line = f"{name}: {result.done} done, {result.skipped} skipped, {result.failed} failed ({result.seconds:.1f} s)"
    if result.retried:
        line += f"; {result.retried} item{'s' if result.retried > 1 else ''} ran again after a worker died"
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


# --- the local pool -------------------------------------------------------------------------------------

#: How many times an item may be started on a worker that then dies before it is recorded failed.
MAX_ATTEMPTS = 3
#: The error recorded for an item whose worker died under it every time it ran.
WORKER_DIED = "worker died while running this item"


def worker_died(attempts: int) -> dict[str, Any]:
    """The failed record's fields of an item whose worker process died under it ``attempts`` times."""
    return {
        "error": f"{WORKER_DIED} ({attempts} attempts: out of memory, or killed)",
        "hint": "rerun the batch to try it again; if it dies again, give it more memory or fewer --workers",
    }


def _serve(connection: Any, build: Builder, config: Any, threads: int) -> None:
    """A pool worker: build the processor on the first item (a build failure is the job's, sent back once),
    then answer ``(index, item)`` with ``(index, status, fields)`` until it is sent ``None``."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's: it ends the workers
    process: Processor | None = None
    while True:
        try:
            task = connection.recv()
        except (EOFError, OSError):
            return  # the driver has gone
        if task is None:
            return
        index, item = task
        if process is None:
            try:
                import torch

                torch.set_num_threads(threads)
            except ImportError:  # pragma: no cover - every pipeline needs torch
                pass
            try:
                process = build(config)
            except SoraError as exc:
                connection.send((index, "job-error", {"error": exc.message, "hint": exc.hint}))
                return
        status, fields = _outcome(process, item)
        connection.send((index, status, fields))


class _Worker:
    """One spawned worker process, its end of a pipe, and the task it is running (``None`` when idle)."""

    def __init__(self, context: Any, build: Builder, config: Any, threads: int) -> None:
        mine, theirs = context.Pipe()
        self.process = context.Process(target=_serve, args=(theirs, build, config, threads), daemon=True)
        self.process.start()
        theirs.close()
        self.connection = mine
        self.task: tuple[int, Any] | None = None

    def give(self, task: tuple[int, Any]) -> bool:
        """Send it ``task``; ``False`` when it has died (the task was not started)."""
        try:
            self.connection.send(task)
        except OSError:
            return False
        self.task = task
        return True

    def receive(self) -> tuple[int, str, dict[str, Any]] | None:
        """Its answer, once it is ready (its pipe or its process is); ``None`` when it died without one."""
        import pickle

        try:
            if self.connection.poll():
                return self.connection.recv()
        except (EOFError, OSError, pickle.UnpicklingError):
            pass
        return None

    def close(self, *, wait: float) -> None:
        with contextlib.suppress(OSError):
            self.connection.send(None)
        self.process.join(wait)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join()
        self.connection.close()


class LocalPool:
    """Items on ``workers`` spawned processes, one item at a time each. A worker that dies (killed, out of
    memory) is replaced by a fresh one and the item it was running runs again, at most :data:`MAX_ATTEMPTS`
    times in all, then it is recorded failed (:func:`worker_died`); ``retried`` counts the items run again."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.retried = 0

    def run(self, build: Builder, config: Any, tasks: list[tuple[int, Any]]) -> Iterator[tuple[int, str, dict]]:
        import multiprocessing
        from collections import Counter, deque
        from multiprocessing.connection import wait

        context = multiprocessing.get_context("spawn")
        threads = worker_threads(self.workers)
        waiting = deque(tasks)
        attempts: Counter[int] = Counter()
        pool: list[_Worker] = []

        def feed(worker: _Worker) -> _Worker:
            while waiting:  # a worker that died before it was given the task: replaced, the task kept
                task = waiting.popleft()
                if worker.give(task):
                    return worker
                waiting.appendleft(task)
                worker.close(wait=0)
                worker = _Worker(context, build, config, threads)
            return worker

        finished = False
        try:
            for _ in range(min(self.workers, len(tasks))):
                pool.append(feed(_Worker(context, build, config, threads)))
            while busy := [worker for worker in pool if worker.task is not None]:
                ready = set(wait([w.connection for w in busy] + [w.process.sentinel for w in busy]))
                for worker in busy:
                    if worker.connection not in ready and worker.process.sentinel not in ready:
                        continue
                    result = worker.receive()
                    task, worker.task = worker.task, None
                    assert task is not None
                    if result is None:  # it died under its item: the item again (bounded), on a fresh worker
                        index = task[0]
                        attempts[index] += 1
                        worker.close(wait=0)
                        if attempts[index] >= MAX_ATTEMPTS:
                            yield index, "failed", worker_died(attempts[index])
                        else:
                            self.retried += attempts[index] == 1
                            waiting.appendleft(task)
                        pool.remove(worker)
                        if waiting:
                            pool.append(feed(_Worker(context, build, config, threads)))
                        continue
                    index, status, fields = result
                    if status == "job-error":
                        raise BatchError(fields["error"], fields.get("hint"))
                    yield index, status, fields
                    pool[pool.index(worker)] = feed(worker)
            finished = True
        finally:  # every worker is idle at the end; when the job stops early (an error, Ctrl-C), they are ended
            for worker in pool:
                worker.close(wait=5 if finished else 0)


class InProcess:
    """Items one after another in this process, with one processor."""

    retried = 0

    def run(self, build: Builder, config: Any, tasks: list[tuple[int, Any]]) -> Iterator[tuple[int, str, dict]]:
        process = build(config)  # a SoraError here is the job's, raised as it is
        for index, item in tasks:
            status, fields = _outcome(process, item)
            yield index, status, fields


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
    executor: Executor | None = None,
) -> BatchResult:
    """Run every item not finished before through the processor ``build(config)`` makes; keep each result as a
    part under its key; return every item's record in input order.

    ``build`` and ``config`` must be picklable (a module-level function and plain data) when ``workers`` > 1:
    each of the ``workers`` spawned processes builds its processor once, on its first item, with the cores
    shared out (:func:`worker_threads`). ``reuse(index, record)``, when given, may refuse a finished part (its
    file has gone, say), which then runs again. Progress is shown per :func:`sora_core.progress.enabled`
    (``show`` forces it), with items per second and the failures so far. ``executor`` runs the items elsewhere
    (:class:`sora_core.batch_ray.RayExecutor`); by default they run here (:class:`InProcess`) with one worker,
    else on a :class:`LocalPool`.
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
        if executor is None:
            executor = InProcess() if min(workers, len(tasks)) == 1 else LocalPool(workers)
        run = executor.run(build, config, tasks)
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
    retried = executor.retried if executor is not None else 0
    return BatchResult(ordered, done, skipped, failed, time.perf_counter() - started, retried)
