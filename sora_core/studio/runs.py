"""Runs started from the studio: one at a time on a worker thread, each node's state and time kept for the page.

A run builds the graph with its weights (the last built pipeline is kept while the graph does not change),
runs it with an observer that marks each node running and done with its trace time, and keeps its outputs
as the page shows them: videos written as MP4 files (atomically) under the run's folder, texts as they are,
tensors as statistics. A failure is kept as the run's error (message and hint); the graph is never touched.
The last ``max_runs`` runs are kept; older finished ones and their files are removed. At most
``max_waiting`` runs wait behind the running one; one more is refused (429), so a flood of requests cannot
hold clips and threads without bound.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sora_core import progress
from sora_core.errors import SoraError
from sora_core.studio.problems import StudioError

if TYPE_CHECKING:
    from sora_core.pipeline.pipeline import Pipeline
    from sora_core.pipeline.spec import PipelineSpec
    from sora_core.registry import Registry

log = logging.getLogger("sora_core.studio")

#: Frames per second of a video output's MP4 (the shipped t2v pipeline's rate).
VIDEO_FPS = 8.0

QUEUED, WAITING, RUNNING, DONE, FAILED = "queued", "waiting", "running", "done", "failed"


@dataclass
class Run:
    """One run of a graph: its state as ``GET /api/runs/{id}`` returns it."""

    id: str
    folder: Path
    status: str = QUEUED
    stage: str = "queued"
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    progress: dict[str, int] = field(default_factory=lambda: {"done": 0, "total": 0})
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: dict[str, str] | None = None
    seconds: float | None = None
    #: what the weights could not do as asked (unknown words, sizes outside the trained range), each once
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "stage": self.stage,
            "nodes": self.nodes,
            "progress": dict(self.progress),
            "outputs": self.outputs,
            "error": self.error,
            "seconds": self.seconds,
            "warnings": self.warnings,
        }


class RunStore:
    """The studio's runs: started with :meth:`start`, read with :meth:`get`, one running at a time."""

    def __init__(
        self, folder: Path, registry: Registry, base_dir: Path | None = None, max_runs: int = 20, max_waiting: int = 4
    ) -> None:
        self.folder = folder
        self.registry = registry
        self.base_dir = base_dir
        self.max_runs = max_runs
        self.max_waiting = max_waiting
        self._runs: OrderedDict[str, Run] = OrderedDict()
        self._lock = threading.Lock()
        self._one_at_a_time = threading.Lock()
        self._pipeline: tuple[str, Pipeline, list[str]] | None = None
        self._states = _NodeStates()

    def get(self, run_id: str) -> Run | None:
        with self._lock:
            return self._runs.get(run_id)

    def start(self, spec: PipelineSpec, inputs: dict[str, Any], seed: int | None) -> Run:
        """Queue a run of ``spec`` on ``inputs`` (already parsed); it starts when the running one ends."""
        with self._lock:
            waiting = sum(run.status == QUEUED for run in self._runs.values())
            if waiting >= self.max_waiting:
                raise StudioError(
                    429,
                    f"{waiting} runs are already waiting for the one running",
                    "wait for a run to end, then start this one again",
                    headers={"Retry-After": "5"},
                )
            run_id = secrets.token_hex(8)
            run = Run(run_id, self.folder / run_id)
            run.nodes = {name: {"state": WAITING, "seconds": None} for name in spec.nodes}
            self._runs[run_id] = run
            self._forget_old()
        thread = threading.Thread(target=self._work, args=(run, spec, inputs, seed), name=f"studio-{run_id}")
        thread.daemon = True
        thread.start()
        return run

    def _forget_old(self) -> None:
        finished = [run_id for run_id, run in self._runs.items() if run.status in (DONE, FAILED)]
        for run_id in finished[: max(0, len(self._runs) - self.max_runs)]:
            shutil.rmtree(self._runs.pop(run_id).folder, ignore_errors=True)

    # --- the worker --------------------------------------------------------------------------------------

    def _work(self, run: Run, spec: PipelineSpec, inputs: dict[str, Any], seed: int | None) -> None:
        with self._one_at_a_time:
            started = time.perf_counter()
            run.status, run.stage = RUNNING, "building"
            try:
                pipeline, built_warnings = self._built(spec)
                plan = pipeline.plan()
                executed = {name for level in plan.levels for name in level}
                for name in run.nodes:
                    if name not in executed:
                        run.nodes[name] = {"state": "component", "seconds": None}
                run.progress = {"done": 0, "total": len(executed)}
                run.stage = "running"
                self._states.begin(run, pipeline.name)
                try:
                    with _warnings() as recorder, progress.listen(self._states.step):
                        outputs = pipeline.run(inputs, seed=seed, progress=False)
                finally:
                    self._states.begin(None, "")
                run.warnings = list(dict.fromkeys([*built_warnings, *recorder.messages]))
                run.stage = "saving"
                run.folder.mkdir(parents=True, exist_ok=True)
                run.outputs = {name: self._shown(run, name, value) for name, value in outputs.items()}
                run.status, run.stage = DONE, "done"
            except SoraError as exc:
                run.error = {"type": type(exc).__name__, "message": exc.message, "hint": exc.hint or ""}
                run.status, run.stage = FAILED, "failed"
            except Exception as exc:  # a bug in a particle: one line for the page, the traceback in the log
                log.exception("studio run %s failed", run.id)
                run.error = {
                    "type": type(exc).__name__,
                    "message": f"unexpected {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
                    "hint": "this is a bug in sora-core or a plugin; the studio's log has the traceback",
                }
                run.status, run.stage = FAILED, "failed"
            finally:
                run.seconds = round(time.perf_counter() - started, 3)
                for state in run.nodes.values():
                    if state["state"] == RUNNING:
                        state["state"] = FAILED

    def _built(self, spec: PipelineSpec) -> tuple[Pipeline, list[str]]:
        """``spec`` built with its weights, and the warnings its build raised; the last one is reused while the
        graph is the same."""
        from sora_core.pipeline import Pipeline

        key = json.dumps(spec.to_data(), sort_keys=True, default=str)
        if self._pipeline is None or self._pipeline[0] != key:
            self._pipeline = None  # the old one's memory goes before the new one is built
            with _warnings() as recorder:
                pipeline = Pipeline.from_spec(spec, registry=self.registry, base_dir=self.base_dir)
            pipeline.observe(self._states)
            self._pipeline = (key, pipeline, recorder.messages)
        return self._pipeline[1], self._pipeline[2]

    def _shown(self, run: Run, name: str, value: Any) -> dict[str, Any]:
        """An output as the page shows it: a video file, text, tensor statistics, or a short value."""
        import torch

        if isinstance(value, str):
            return {"type": "text", "value": [value]}
        if isinstance(value, (list, tuple)) and value and all(isinstance(item, str) for item in value):
            return {"type": "text", "value": list(value)}
        if isinstance(value, torch.Tensor):
            if value.ndim == 5 and value.shape[1] in (1, 3) and value.is_floating_point() and value.numel():
                return self._video(run, name, value)
            return _tensor_summary(value)
        return {"type": "value", "value": _plain(value)}

    def _video(self, run: Run, name: str, value: Any) -> dict[str, Any]:
        from sora_core.video_io import to_frames, write_video

        files = []
        for row in range(value.shape[0]):
            file = f"{_file_stem(name)}-{row}.mp4"
            write_video(to_frames(value[row]), run.folder / file, fps=VIDEO_FPS)
            files.append(f"/api/runs/{run.id}/outputs/{file}")
        return {"type": "video", "url": files[0], "urls": files, "shape": list(value.shape), "fps": VIDEO_FPS}

    def output_file(self, run_id: str, file: str) -> Path | None:
        """The output file ``file`` of run ``run_id``, or ``None`` (only names this store wrote are served)."""
        run = self.get(run_id)
        if run is None:
            return None
        served = {url.rsplit("/", 1)[-1] for out in run.outputs.values() for url in out.get("urls", [])}
        return run.folder / file if file in served else None

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class _NodeStates:
    """Pipeline observer of the built pipeline: in the current run, each node running (with the steps of a
    loop it reports, such as a sampler's), then done with its time, and the run's progress (branches may run
    on threads of their own, hence the lock)."""

    def __init__(self) -> None:
        self.run: Run | None = None
        self.pipeline = ""
        self._running: list[str] = []
        self._lock = threading.Lock()

    def begin(self, run: Run | None, pipeline: str) -> None:
        """Watch ``run`` of the pipeline named ``pipeline`` (``None``: no run)."""
        with self._lock:
            self.run, self.pipeline = run, pipeline
            self._running.clear()

    def sora_before_node(self, node: str, **_: Any) -> None:
        with self._lock:
            if self.run is not None:
                self.run.nodes[node] = {"state": RUNNING, "seconds": None}
                self._running.append(node)

    def step(self, description: str, done: int, total: int | None) -> None:
        """A step of a progress loop (:func:`sora_core.progress.listen`): counted on the node that started last
        among those running; the pipeline's own count of nodes is the run's progress already."""
        with self._lock:
            if self.run is None or description == self.pipeline or not self._running:
                return
            node = self._running[-1]
            self.run.nodes[node] = {**self.run.nodes[node], "steps": {"done": done, "total": total, "of": description}}

    def sora_after_node(self, node: str, seconds: float, **_: Any) -> None:
        with self._lock:
            if node in self._running:
                self._running.remove(node)
            if self.run is not None:
                self.run.nodes[node] = {**self.run.nodes[node], "state": DONE, "seconds": round(seconds, 4)}
                self.run.progress = {"done": self.run.progress["done"] + 1, "total": self.run.progress["total"]}


def _warnings() -> Any:
    """Records the ``SoraWarning``s raised inside ``with`` (as ``sora generate`` reports them)."""
    from sora_core import api

    return api._Recorder(False, api._API)


def _tensor_summary(value: Any) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "type": "tensor",
        "dtype": str(value.dtype).removeprefix("torch."),
        "shape": list(value.shape),
    }
    if value.numel() and (value.is_floating_point() or value.dtype.is_complex is False):
        data = value.detach().float()
        summary.update(
            mean=round(data.mean().item(), 6),
            std=round(data.std().item(), 6) if data.numel() > 1 else 0.0,
            min=round(data.min().item(), 6),
            max=round(data.max().item(), 6),
        )
    return summary


def _plain(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)[:500]
    return value


def _file_stem(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:64] or "output"
