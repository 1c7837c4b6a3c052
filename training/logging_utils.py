"""A loss log: one JSON object per line (step, seconds since the run started, the losses), appended and flushed."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

__all__ = ["LossLog"]


class LossLog:
    """Append-only JSONL log at ``path``; on resume, lines past ``resume_step`` (never checkpointed) are dropped.

    ``seconds`` continues from the last kept line, so a resumed run's time axis is the total training time.
    """

    def __init__(self, path: str | os.PathLike[str], resume_step: int | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.offset = 0.0
        if resume_step is None:
            self.path.write_text("")
        elif self.path.exists():
            kept = [r for r in self.read(self.path) if r["step"] <= resume_step]
            self.path.write_text("".join(json.dumps(r) + "\n" for r in kept))
            self.offset = kept[-1]["seconds"] if kept else 0.0
        self.start = time.perf_counter()

    def seconds(self) -> float:
        return self.offset + time.perf_counter() - self.start

    def write(self, step: int, **values: Any) -> dict[str, Any]:
        record = {"step": step, "seconds": round(self.seconds(), 2)}
        record.update({k: (round(float(v), 6) if isinstance(v, float) else v) for k, v in values.items()})
        with self.path.open("a") as file:
            file.write(json.dumps(record) + "\n")
        return record

    @staticmethod
    def read(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
        """Every record of a log file, in order."""
        lines = Path(path).read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]
