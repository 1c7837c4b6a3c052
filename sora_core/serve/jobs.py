"""Generation jobs and their records on disk: ``DATA/jobs/ID.json`` (written atomically) and ``DATA/videos/ID.mp4``.

A job is ``queued``, then ``running``, then ``done``, ``failed`` or ``cancelled``. Every change of state is
written before it is seen by a client, so a restarted server serves the jobs it finished before. A job that
was ``queued`` or ``running`` when the server stopped is reported ``failed`` on restart, with an error that
says so: never lost silently and never run twice behind the client's back.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from sora_core.atomic import atomic_write_text
from sora_core.serve.requests import GenerationRequest

log = logging.getLogger("sora_core.serve")

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)
STOPPED_RUNNING = "the server stopped while this job was running"
STOPPED_QUEUED = "the server stopped while this job was queued"
_RESUBMIT = "submit the request again"
_TEMPORARY = re.compile(r"\.[0-9a-f]{16}\.(?:mp4|json)-")
_ID = re.compile(r"^[0-9a-f]{16}$")
#: Largest job record read back on restart (a record is a few hundred bytes).
_MAX_RECORD_BYTES = 1 << 20


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Job:
    """One generation request and where it stands. ``progress`` is ``{"fraction", "done", "total"}`` in
    pipeline nodes run; ``batch`` is ``{"size", "index"}`` once it runs: how many jobs shared its pipeline call."""

    def __init__(self, job_id: str, prompt: str, settings: dict[str, Any], **state: Any) -> None:
        self.id = job_id
        self.prompt = prompt
        self.settings = dict(settings)
        self.status: str = state.get("status", QUEUED)
        self.created: str = state.get("created") or _now()
        self.started: str | None = state.get("started")
        self.finished: str | None = state.get("finished")
        self.progress: dict[str, Any] = state.get("progress") or {"fraction": 0.0, "done": 0, "total": None}
        self.batch: dict[str, int] | None = state.get("batch")
        self.error: str | None = state.get("error")
        self.hint: str | None = state.get("hint")
        self.warnings: list[str] = list(state.get("warnings") or [])

    @property
    def request(self) -> GenerationRequest:
        return GenerationRequest(self.prompt, self.settings)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "status": self.status,
            "prompt": self.prompt,
            "settings": self.settings,
            "progress": self.progress,
            "batch": self.batch,
            "created": self.created,
            "started": self.started,
            "finished": self.finished,
            "warnings": self.warnings,
        }
        if self.error is not None:
            data["error"] = self.error
            data["hint"] = self.hint or ""
        if self.status == DONE:
            data["video"] = f"/v1/generations/{self.id}/video"
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        state = {k: v for k, v in data.items() if k not in ("id", "prompt", "settings", "video")}
        return cls(str(data["id"]), str(data["prompt"]), dict(data["settings"]), **state)


def sweep_temporaries(data: str | Path) -> list[Path]:
    """Remove what a server killed mid-write left in ``data``: the temporary files of atomic writes
    (``.ID.mp4-*``, ``.ID.json-*``) in ``jobs/`` and ``videos/``. Call it only while holding the folder (no other
    server writes there); the paths removed."""
    removed = []
    for folder in (Path(data) / "jobs", Path(data) / "videos"):
        for path in folder.glob(".*"):
            if _TEMPORARY.match(path.name) and path.is_file():
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


class JobStore:
    """The jobs of one data folder, in memory and on disk; every method is safe to call from any thread."""

    def __init__(self, data: str | Path) -> None:
        self.data = Path(data)
        self.jobs_dir = self.data / "jobs"
        self.videos_dir = self.data / "videos"
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.videos_dir.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self._jobs: dict[str, Job] = {}
        self._recover()

    def _recover(self) -> None:
        """Read every record; a job the last server left queued or running is failed, and said to be."""
        for path in sorted(self.jobs_dir.glob("*.json")):
            if not _ID.match(path.stem):
                continue
            try:
                if path.stat().st_size > _MAX_RECORD_BYTES:
                    raise ValueError("over 1 MiB")
                job = Job.from_dict(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("skipping unreadable job record %s: %s", path, exc)
                continue
            if job.id != path.stem:
                continue
            if job.status in (QUEUED, RUNNING):
                job.error = STOPPED_RUNNING if job.status == RUNNING else STOPPED_QUEUED
                job.hint = _RESUBMIT
                job.status, job.finished = FAILED, _now()
                self.save(job)
            if job.status == DONE and not self.video_path(job.id).is_file():
                job.status, job.error, job.hint = FAILED, "the video is missing from the data folder", _RESUBMIT
                self.save(job)
            self._jobs[job.id] = job

    def create(self, request: GenerationRequest) -> Job:
        with self.lock:
            job_id = secrets.token_hex(8)
            while job_id in self._jobs:
                job_id = secrets.token_hex(8)
            job = Job(job_id, request.prompt, request.settings)
            self.save(job)
            self._jobs[job_id] = job
            return job

    def get(self, job_id: str) -> Job | None:
        """The job, or ``None`` for an unknown id (anything not shaped like an id never reaches the disk)."""
        if not _ID.match(job_id):
            return None
        with self.lock:
            return self._jobs.get(job_id)

    def update(self, job: Job, **changes: Any) -> None:
        """Change ``job``'s fields and write its record, under the store's lock."""
        with self.lock:
            for name, value in changes.items():
                setattr(job, name, value)
            if changes.get("status") in FINISHED and job.finished is None:
                job.finished = _now()
            if changes.get("status") == RUNNING:
                job.started = _now()
            self.save(job)

    def save(self, job: Job) -> None:
        atomic_write_text(self.jobs_dir / f"{job.id}.json", json.dumps(job.to_dict(), indent=1) + "\n")

    def snapshot(self, job: Job) -> dict[str, Any]:
        """The job's record as a client sees it, read under the lock (never half of an update)."""
        with self.lock:
            return json.loads(json.dumps(job.to_dict()))

    def video_path(self, job_id: str) -> Path:
        return self.videos_dir / f"{job_id}.mp4"
