"""Running a built pipeline: dependency order, concurrent branches, seeds, hooks and progress."""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import torch

from sora_core.errors import PipelineRuntimeError, SoraError
from sora_core.pipeline.spec import parse_endpoint
from sora_core.pipeline.validate import topological_order

if TYPE_CHECKING:
    from sora_core.pipeline.pipeline import Pipeline

Values = dict[tuple[str, str], Any]


def node_seed(seed: int, node: str) -> int:
    """A per-node seed, stable across runs and independent of execution order."""
    digest = hashlib.sha256(f"{seed}:{node}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & 0x7FFF_FFFF_FFFF_FFFF


def levels(pipeline: Pipeline) -> list[list[str]]:
    """Nodes grouped by depth: every node's inputs come from earlier groups."""
    order, _ = topological_order(list(pipeline.nodes), pipeline.spec.edges)
    depth: dict[str, int] = {}
    for node in order:
        parents = [e.source for e in pipeline.spec.edges if e.target == node]
        depth[node] = 1 + max((depth[p] for p in parents), default=-1)
    grouped: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for node in order:
        grouped[depth[node]].append(node)
    return grouped


def execute(
    pipeline: Pipeline,
    inputs: Mapping[str, Any],
    *,
    seed: int | None = None,
    concurrent: bool = True,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Run ``pipeline`` on ``inputs`` (by pipeline input name); return its outputs by name."""
    _check_inputs(pipeline, inputs)
    values: Values = {}  # what each node reads, by (node, input port); filled as producers finish
    for name, targets in pipeline.spec.inputs.items():
        for target in targets:
            values[parse_endpoint(target)] = inputs[name]
    results: Values = {}  # what each node wrote, by (node, output port)
    if seed is not None:
        torch.manual_seed(seed)
    hook = pipeline.hooks()
    groups = levels(pipeline)
    with _progress(progress, sum(len(g) for g in groups), pipeline.name) as advance:

        def run(node: str) -> None:
            _run_node(pipeline, node, values, results, seed, hook)
            advance(node)

        for group in groups:
            parallel = [n for n in group if not getattr(pipeline.nodes[n], "stochastic", False)]
            alone = [n for n in group if n not in parallel]
            if concurrent and len(parallel) > 1:
                with ThreadPoolExecutor(max_workers=min(len(parallel), os.cpu_count() or 1)) as pool:
                    for future in [pool.submit(run, n) for n in parallel]:
                        future.result()
            else:
                for node in parallel:
                    run(node)
            for node in alone:  # nodes that draw random numbers run one at a time, so seeds reproduce
                run(node)
    return {name: results[parse_endpoint(source)] for name, source in pipeline.spec.outputs.items()}


def _check_inputs(pipeline: Pipeline, inputs: Mapping[str, Any]) -> None:
    expected = set(pipeline.spec.inputs)
    missing = sorted(expected - set(inputs))
    unknown = sorted(set(inputs) - expected)
    if missing or unknown:
        parts = []
        if missing:
            parts.append("missing input " + ", ".join(repr(m) for m in missing))
        if unknown:
            parts.append("unknown input " + ", ".join(repr(u) for u in unknown))
        raise PipelineRuntimeError(
            f"pipeline {pipeline.name!r}: " + "; ".join(parts),
            "its inputs are " + (", ".join(repr(i) for i in sorted(expected)) or "none"),
        )


def _run_node(pipeline: Pipeline, node: str, values: Values, results: Values, seed: int | None, hook: Any) -> None:
    particle = pipeline.nodes[node]
    device, dtype = pipeline.placement(node)
    kwargs = {
        port: _place(values[(node, port)], device, dtype) for port in particle.input_ports() if (node, port) in values
    }
    hook.sora_before_node(pipeline=pipeline, node=node, particle=particle, inputs=kwargs)
    if seed is not None and getattr(particle, "stochastic", False):
        torch.manual_seed(node_seed(seed, node))
    start = time.perf_counter()
    try:
        with torch.inference_mode():
            outputs = particle(**kwargs)
    except SoraError:
        raise
    except Exception as exc:
        raise PipelineRuntimeError(
            f"node {node!r} ({particle.registered_name}) failed: {type(exc).__name__}: {exc}",
            "check the input shapes with `sora graph` and the particle with `sora info`",
        ) from exc
    seconds = time.perf_counter() - start
    if not isinstance(outputs, Mapping):
        raise PipelineRuntimeError(
            f"node {node!r} ({particle.registered_name}) returned {type(outputs).__name__}, not a dict of outputs",
            "forward must return a dict keyed by output port name",
        )
    missing = [p for p, spec in particle.output_ports().items() if not spec.optional and p not in outputs]
    if missing:
        raise PipelineRuntimeError(
            f"node {node!r} ({particle.registered_name}) did not return its output {', '.join(map(repr, missing))}",
            "forward must return every declared non-optional output",
        )
    for port, value in outputs.items():
        results[(node, port)] = value
    for edge in pipeline.spec.edges:
        if edge.source == node and edge.source_port in outputs:
            values[(edge.target, edge.target_port)] = outputs[edge.source_port]
    hook.sora_after_node(pipeline=pipeline, node=node, particle=particle, outputs=dict(outputs), seconds=seconds)


def _place(value: Any, device: torch.device | None, dtype: torch.dtype | None) -> Any:
    if not isinstance(value, torch.Tensor):
        return value
    if dtype is not None and value.is_floating_point() and value.dtype != dtype:
        value = value.to(dtype)
    if device is not None and value.device != device:
        value = value.to(device)
    return value


class _progress:
    """A rich progress bar over nodes, on a terminal only (or when forced)."""

    def __init__(self, enabled: bool | None, total: int, title: str) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.total, self.title = total, title
        self._bar: Any = None

    def __enter__(self) -> Callable[[str], None]:
        if not self.enabled:
            return lambda node: None
        from rich.progress import Progress

        self._bar = Progress(transient=True)
        self._bar.start()
        task = self._bar.add_task(self.title, total=self.total)
        return lambda node: self._bar.update(task, advance=1, description=f"{self.title}: {node}")

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
