"""Tracing pipeline runs: per-node wall time, peak memory and output shapes.

A :class:`Tracer` observes a pipeline through the ``sora_before_node`` /
``sora_after_node`` hooks (``pipe.observe(tracer)``). Peak memory is the CUDA
allocator's peak during the node on a GPU, and the process's peak resident set
size when the node finished on the CPU (a high-water mark of the whole process).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from sora_core.atomic import atomic_write_text


@dataclass
class NodeTrace:
    node: str
    particle: str
    start: float
    seconds: float = 0.0
    peak_memory_bytes: int = 0
    output_shapes: dict[str, list[int]] = field(default_factory=dict)
    thread: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "peak_memory_bytes": self.peak_memory_bytes,
            "output_shapes": self.output_shapes,
        }


class Tracer:
    """Collects a :class:`NodeTrace` per node of the runs it observes."""

    def __init__(self) -> None:
        self.origin = time.perf_counter()
        self.nodes: dict[str, NodeTrace] = {}
        self._lock = threading.Lock()
        self._threads: dict[int, int] = {}

    def sora_before_node(self, pipeline: Any, node: str, particle: Any, inputs: dict[str, Any]) -> None:
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        with self._lock:
            thread = self._threads.setdefault(threading.get_ident(), len(self._threads) + 1)
            self.nodes[node] = NodeTrace(node, particle.registered_name or "", time.perf_counter(), thread=thread)

    def sora_after_node(self, pipeline: Any, node: str, particle: Any, outputs: dict[str, Any], seconds: float) -> None:
        record = self.nodes[node]
        record.seconds = seconds
        record.peak_memory_bytes = _peak_memory(outputs)
        record.output_shapes = {
            port: list(value.shape) for port, value in outputs.items() if isinstance(value, torch.Tensor)
        }

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per node: seconds, peak memory and output shapes (what ``Pipeline.describe`` takes)."""
        return {name: record.to_dict() for name, record in self.nodes.items()}

    def chrome_trace(self) -> dict[str, Any]:
        """The runs as Chrome trace-event JSON (open in chrome://tracing or Perfetto)."""
        pid = os.getpid()
        events = [
            {
                "name": record.node,
                "cat": record.particle,
                "ph": "X",
                "ts": round((record.start - self.origin) * 1e6, 3),
                "dur": round(record.seconds * 1e6, 3),
                "pid": pid,
                "tid": record.thread,
                "args": {"particle": record.particle, **record.to_dict()},
            }
            for record in self.nodes.values()
        ]
        return {"traceEvents": events, "displayTimeUnit": "ms"}

    def write_chrome_trace(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`chrome_trace` atomically to ``path``."""
        return atomic_write_text(path, json.dumps(self.chrome_trace(), indent=1) + "\n")


def summary_from_chrome_trace(data: Any) -> dict[str, dict[str, Any]]:
    """Per-node summaries back from a Chrome trace written by :meth:`Tracer.write_chrome_trace`."""
    summary: dict[str, dict[str, Any]] = {}
    for event in data.get("traceEvents", []) if isinstance(data, dict) else []:
        args = event.get("args", {})
        if event.get("ph") == "X" and "seconds" in args:
            summary[event["name"]] = {
                k: args[k] for k in ("seconds", "peak_memory_bytes", "output_shapes") if k in args
            }
    return summary


def _peak_memory(outputs: dict[str, Any]) -> int:
    tensors = [v for v in outputs.values() if isinstance(v, torch.Tensor)]
    if tensors and tensors[0].is_cuda:
        return int(torch.cuda.max_memory_allocated(tensors[0].device))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)
