"""Running a built pipeline: dependency order, concurrent branches, seeds, hooks and progress.

Everything that does not change between runs (levels, each node's ports, edges and
placement) is computed once into an :class:`ExecutionPlan`, so a run costs little
more than the particles' own forward passes.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from sora_core.errors import PipelineRuntimeError, SoraError
from sora_core.limits import is_allocation_failure
from sora_core.pipeline.spec import parse_endpoint
from sora_core.pipeline.validate import component_only_nodes, topological_order
from sora_core.progress import steps

if TYPE_CHECKING:
    from sora_core.pipeline.pipeline import Pipeline

Values = dict[tuple[str, str], Any]


def node_seed(seed: int, node: str) -> int:
    """A per-node seed, stable across runs and independent of execution order."""
    digest = hashlib.sha256(f"{seed}:{node}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & 0x7FFF_FFFF_FFFF_FFFF


@dataclass(frozen=True)
class NodePlan:
    """What running one node needs, computed once."""

    name: str
    inputs: tuple[str, ...]
    required_outputs: tuple[str, ...]
    downstream: tuple[tuple[str, str, str], ...]  # (output port, target node, target port)
    device: torch.device | None
    dtype: torch.dtype | None
    stochastic: bool
    kept_outputs: tuple[str, ...]  # the ports that are pipeline outputs; the rest are dropped once passed on


@dataclass(frozen=True)
class ExecutionPlan:
    """Nodes grouped by depth (every node's inputs come from earlier groups), and how to run each."""

    levels: tuple[tuple[str, ...], ...]
    nodes: dict[str, NodePlan]
    input_targets: dict[str, tuple[tuple[str, str], ...]]
    outputs: dict[str, tuple[str, str]]

    @property
    def widest(self) -> int:
        """The most nodes of one level that may run at the same time (stochastic nodes run alone)."""
        return max((sum(not self.nodes[n].stochastic for n in level) for level in self.levels), default=0)

    @classmethod
    def of(cls, pipeline: Pipeline) -> ExecutionPlan:
        spec = pipeline.spec
        passive = component_only_nodes(spec)
        order, _ = topological_order([n for n in pipeline.nodes if n not in passive], spec.edges)
        depth: dict[str, int] = {}
        for node in order:
            parents = [e.source for e in spec.edges if e.target == node]
            depth[node] = 1 + max((depth[p] for p in parents), default=-1)
        levels = tuple(tuple(n for n in order if depth[n] == d) for d in range(max(depth.values(), default=-1) + 1))
        outputs = {k: parse_endpoint(v) for k, v in spec.outputs.items()}
        nodes = {}
        for name, particle in pipeline.nodes.items():
            if name in passive:
                continue
            device, dtype = pipeline.placement(name)
            nodes[name] = NodePlan(
                name=name,
                inputs=tuple(particle.input_ports()),
                required_outputs=tuple(p for p, s in particle.output_ports().items() if not s.optional),
                downstream=tuple((e.source_port, e.target, e.target_port) for e in spec.edges if e.source == name),
                device=device,
                dtype=dtype,
                stochastic=bool(getattr(particle, "stochastic", False)),
                kept_outputs=tuple(dict.fromkeys(port for source, port in outputs.values() if source == name)),
            )
        return cls(
            levels=levels,
            nodes=nodes,
            input_targets={k: tuple(parse_endpoint(t) for t in v) for k, v in spec.inputs.items()},
            outputs=outputs,
        )


def execute(
    pipeline: Pipeline,
    inputs: Mapping[str, Any],
    *,
    seed: int | None = None,
    concurrent: bool = True,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Run ``pipeline`` on ``inputs`` (by pipeline input name); return its outputs by name."""
    plan = pipeline.plan()
    _check_inputs(pipeline, plan, inputs)
    pipeline.bind_components()
    values: Values = {}  # what each node reads, by (node, input port); filled as producers finish
    for name, targets in plan.input_targets.items():
        for target in targets:
            values[target] = inputs[name]
    results: Values = {}  # what each node wrote, by (node, output port)
    if seed is not None:
        torch.manual_seed(seed)
    hook = pipeline.hooks()
    pool = _shared_pool() if concurrent and plan.widest > 1 and not _in_pool_worker() else None
    # inference_mode is also entered per node (pool threads need it); holding it for the whole run as well
    # keeps the calling thread from switching modes between nodes, measurably cheaper for short nodes.
    with torch.inference_mode(), steps(len(plan.nodes), pipeline.name, show=progress) as advance:

        def run(node: str) -> None:
            _run_node(pipeline, plan.nodes[node], values, results, seed, hook)
            advance(node)

        for level in plan.levels:
            parallel = [n for n in level if not plan.nodes[n].stochastic]
            if pool is not None and len(parallel) > 1:
                futures = [pool.submit(run, n) for n in parallel[1:]]
                try:
                    run(parallel[0])  # the calling thread takes one branch itself
                finally:
                    for future in futures:
                        future.result()
            else:
                for node in parallel:
                    run(node)
            for node in level:  # nodes that draw random numbers run one at a time, so seeds reproduce
                if plan.nodes[node].stochastic:
                    run(node)
    return {name: results[source] for name, source in plan.outputs.items()}


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_worker = threading.local()


def _shared_pool() -> ThreadPoolExecutor:
    """One thread pool for every pipeline run in the process: threads are started once, not per run."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=max(1, (os.cpu_count() or 1) - 1),
                thread_name_prefix="sora-node",
                initializer=_mark_worker,
            )
        return _pool


def _mark_worker() -> None:
    _worker.active = True


def _in_pool_worker() -> bool:
    """A pipeline run inside a node already runs on a pool thread; it runs sequentially, so it cannot deadlock."""
    return getattr(_worker, "active", False)


def _check_inputs(pipeline: Pipeline, plan: ExecutionPlan, inputs: Mapping[str, Any]) -> None:
    expected = set(plan.input_targets)
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


def _run_node(pipeline: Pipeline, plan: NodePlan, values: Values, results: Values, seed: int | None, hook: Any) -> None:
    node = plan.name
    particle = pipeline.nodes[node]
    # Each input is read by exactly one node: popping it lets intermediates be freed as the run goes.
    kwargs = {
        port: _place(values.pop((node, port)), plan.device, plan.dtype)
        for port in plan.inputs
        if (node, port) in values
    }
    if hook is not None:
        hook.sora_before_node(pipeline=pipeline, node=node, particle=particle, inputs=kwargs)
    if seed is not None and plan.stochastic:
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
            _MEMORY_HINT
            if is_allocation_failure(exc)
            else "check the input shapes with `sora graph` and the particle with `sora info`",
        ) from exc
    seconds = time.perf_counter() - start
    if not isinstance(outputs, Mapping):
        raise PipelineRuntimeError(
            f"node {node!r} ({particle.registered_name}) returned {type(outputs).__name__}, not a dict of outputs",
            "forward must return a dict keyed by output port name",
        )
    missing = [p for p in plan.required_outputs if p not in outputs]
    if missing:
        raise PipelineRuntimeError(
            f"node {node!r} ({particle.registered_name}) did not return its output {', '.join(map(repr, missing))}",
            "forward must return every declared non-optional output",
        )
    for port in plan.kept_outputs:
        if port in outputs:
            results[(node, port)] = outputs[port]
    for port, target, target_port in plan.downstream:
        if port in outputs:
            values[(target, target_port)] = outputs[port]
    if hook is not None:
        hook.sora_after_node(pipeline=pipeline, node=node, particle=particle, outputs=dict(outputs), seconds=seconds)


def _place(value: Any, device: torch.device | None, dtype: torch.dtype | None) -> Any:
    if not isinstance(value, torch.Tensor):
        return value
    if dtype is not None and value.is_floating_point() and value.dtype != dtype:
        value = value.to(dtype)
    if device is not None and value.device != device:
        value = value.to(device)
    return value


_MEMORY_HINT = "the run needs more memory than this machine has: use fewer or smaller frames, or fewer candidates"
