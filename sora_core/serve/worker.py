"""The bounded queue of generation jobs and the worker thread that runs them in batches.

``submit`` refuses a job with 429 (and ``Retry-After``) when ``max_queue`` jobs already wait. The worker
takes the oldest job, waits up to ``batch_wait_ms`` for more jobs with the same batch key (sizes, sampling
and seed), takes up to ``max_batch`` of them in submission order and runs them as one pipeline call. A
cancelled queued job is removed from the queue; a cancelled running job runs on with its batch (a pipeline
call cannot be stopped half way) and its video is dropped.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from sora_core.errors import SoraError
from sora_core.serve.jobs import CANCELLED, DONE, FAILED, FINISHED, QUEUED, RUNNING, Job, JobStore
from sora_core.serve.problems import ServeError
from sora_core.serve.requests import GenerationRequest

log = logging.getLogger("sora_core.serve")

Generate = Callable[[Sequence[GenerationRequest], Callable[[int, int], None]], list[Any]]


class GenerationQueue:
    """Jobs waiting to run (at most ``max_queue``) and the thread that runs them, ``max_batch`` at a time."""

    def __init__(
        self, store: JobStore, generate: Generate, *, max_queue: int, max_batch: int, batch_wait_ms: float
    ) -> None:
        self.store = store
        self.generate = generate
        self.max_queue = max_queue
        self.max_batch = max_batch
        self.batch_wait = batch_wait_ms / 1000
        self._waiting: list[Job] = []
        self._changed = threading.Condition(threading.Lock())
        self._open = threading.Event()  # cleared: paused (tests hold jobs in the queue)
        self._open.set()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._seconds_per_batch = 5.0  # until a batch has run

    # --- clients ---------------------------------------------------------------------------------------

    def submit(self, request: GenerationRequest) -> Job:
        with self._changed:
            if len(self._waiting) >= self.max_queue:
                wait = self.retry_after()
                raise ServeError(
                    429,
                    f"the queue is full: {len(self._waiting)} jobs wait, the limit is {self.max_queue}",
                    f"retry after {wait} s (the Retry-After header)",
                    headers={"Retry-After": str(wait)},
                )
            job = self.store.create(request)
            self._waiting.append(job)
            self._changed.notify_all()
            return job

    def cancel(self, job: Job) -> None:
        """Cancel a queued job (it never runs) or a running one (its video is dropped); 409 once finished."""
        with self._changed, self.store.lock:
            if job.status in FINISHED:
                raise ServeError(
                    409, f"job {job.id} is already {job.status}", "only a queued or running job can be cancelled"
                )
            if job in self._waiting:
                self._waiting.remove(job)
            self.store.update(job, status=CANCELLED)

    def retry_after(self) -> int:
        """Seconds until a place in the queue is likely free: the batches ahead, at the recent time per batch."""
        batches = math.ceil(max(1, len(self._waiting)) / self.max_batch)
        return max(1, math.ceil(batches * self._seconds_per_batch))

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    # --- the worker ------------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._work, name="sora-serve-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 0.0) -> None:
        """Ask the worker to stop after its current batch; queued jobs stay queued on disk (and are reported
        failed by the next server)."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        self._open.set()
        if self._thread is not None and timeout:
            self._thread.join(timeout)

    def pause(self) -> None:
        """Hold every job in the queue (the running batch finishes)."""
        self._open.clear()

    def resume(self) -> None:
        self._open.set()
        with self._changed:
            self._changed.notify_all()

    def _work(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            started = time.perf_counter()
            self._run(batch)
            self._seconds_per_batch = time.perf_counter() - started

    def _take(self) -> list[Job] | None:
        """The next batch: the oldest job and up to ``max_batch - 1`` later ones with its key."""
        with self._changed:
            while not self._stopping and (not self._waiting or not self._open.is_set()):
                self._changed.wait(0.2)
            if self._stopping:
                return None
            key = self._waiting[0].request.batch_key
            deadline = time.monotonic() + self.batch_wait
            while len(self._matching(key)) < self.max_batch and not self._stopping:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            batch = self._matching(key)[: self.max_batch]
            if not batch:  # the jobs were cancelled while the worker waited for more
                return []
            for index, job in enumerate(batch):
                self._waiting.remove(job)
                self.store.update(job, status=RUNNING, batch={"size": len(batch), "index": index})
            return batch

    def _matching(self, key: tuple[tuple[str, Any], ...]) -> list[Job]:
        return [job for job in self._waiting if job.request.batch_key == key]

    def _run(self, batch: list[Job]) -> None:
        if not batch:
            return

        def progress(done: int, total: int) -> None:
            with self.store.lock:
                for job in batch:
                    job.progress = {"fraction": round(done / total, 3) if total else 0.0, "done": done, "total": total}

        try:
            results = self.generate([job.request for job in batch], progress)
        except Exception as exc:  # a bug, not the request's fault: logged here, one line to the client
            log.exception("generation batch failed")
            results = [exc] * len(batch)
        for job, result in zip(batch, results, strict=True):
            with self.store.lock:
                if job.status == CANCELLED:
                    continue  # cancelled while it ran: its video is dropped
                if isinstance(result, SoraError):
                    self.store.update(job, status=FAILED, error=result.message, hint=result.hint or "")
                elif isinstance(result, Exception):
                    self.store.update(
                        job,
                        status=FAILED,
                        error=f"unexpected {type(result).__name__}: {result}",
                        hint="this is a bug in sora-core or a plugin; the server's log has the traceback",
                    )
            if isinstance(result, Exception):
                continue
            try:
                result.save(self.store.video_path(job.id))
            except SoraError as exc:
                self.store.update(job, status=FAILED, error=exc.message, hint=exc.hint or "")
                continue
            with self.store.lock:
                if job.status == CANCELLED:
                    self.store.video_path(job.id).unlink(missing_ok=True)
                    continue
                done = {"fraction": 1.0, "done": job.progress.get("total"), "total": job.progress.get("total")}
                self.store.update(job, status=DONE, progress=done, warnings=list(result.warnings))


__all__ = ["QUEUED", "GenerationQueue"]
