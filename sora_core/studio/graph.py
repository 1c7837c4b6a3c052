"""Live checks of the graph being edited, by the validator ``sora run`` uses (:func:`graph_problems`).

Each node is built on torch's meta device (no weights read), so its ports are the ones its config gives;
built nodes are kept by (particle, config, weights) and reused while the user edits. An edge may be added
only when the graph with it has no problem the graph without it lacked: a dtype, a shape (symbolic sizes
unified over the whole graph), a space, a port fed twice or a cycle.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sora_core.errors import SoraError, SpecError
from sora_core.pipeline.pipeline import build_node
from sora_core.pipeline.spec import EdgeSpec, NodeSpec, PipelineSpec
from sora_core.pipeline.validate import graph_problems
from sora_core.studio.palette import port_json
from sora_core.studio.problems import StudioError

if TYPE_CHECKING:
    from sora_core.particle import Particle
    from sora_core.registry import Registry

#: Built nodes kept for reuse (a template has about ten; swapping and editing configs adds a few each).
MAX_KEPT_NODES = 256


class GraphChecker:
    """Checks graphs, edges and swaps against the installed particles, building nodes on meta."""

    def __init__(self, registry: Registry, base_dir: Path | None = None) -> None:
        self.registry = registry
        self.base_dir = base_dir
        self._built: OrderedDict[str, Particle | SoraError] = OrderedDict()
        self._lock = threading.Lock()

    # --- building ----------------------------------------------------------------------------------------

    def particle(self, node: NodeSpec) -> Particle:
        """``node`` built on meta (kept for reuse); its build failure is raised again each time."""
        key = json.dumps([node.particle, node.config, node.weights], sort_keys=True, default=str)
        with self._lock:
            found = self._built.get(key)
            if found is None:
                try:
                    found = build_node(node, self.registry, self.base_dir, materialize=False)
                except SoraError as exc:
                    found = exc
                self._built[key] = found
                while len(self._built) > MAX_KEPT_NODES:
                    self._built.popitem(last=False)
            self._built.move_to_end(key)
        if isinstance(found, SoraError):
            raise found
        return found

    def build(self, spec: PipelineSpec) -> tuple[dict[str, Particle], dict[str, str]]:
        """Every node that builds, and the build problem of each that does not."""
        built: dict[str, Particle] = {}
        failed: dict[str, str] = {}
        for name, node in spec.nodes.items():
            try:
                built[name] = self.particle(node)
            except SoraError as exc:
                failed[name] = exc.message + (f" ({exc.hint})" if exc.hint else "")
        return built, failed

    def problems(self, spec: PipelineSpec) -> list[str]:
        built, failed = self.build(spec)
        return [f"node {name!r}: {text}" for name, text in failed.items()] + graph_problems(spec, built, self.registry)

    # --- what the editor asks ----------------------------------------------------------------------------

    def check(self, spec: PipelineSpec) -> dict[str, Any]:
        """The graph's problems and each node's ports, component slots and build error, as the editor draws them."""
        built, failed = self.build(spec)
        problems = [f"node {name!r}: {text}" for name, text in failed.items()]
        problems += graph_problems(spec, built, self.registry)
        nodes = {}
        for name, node in spec.nodes.items():
            particle = built.get(name)
            if particle is not None:
                nodes[name] = {
                    "particle": particle.registered_name or node.particle,
                    "kind": particle.kind,
                    "inputs": {port: port_json(p) for port, p in particle.input_ports().items()},
                    "outputs": {port: port_json(p) for port, p in particle.output_ports().items()},
                    "components": dict(particle.component_kinds()),
                    "optional_components": sorted(particle.optional_components()),
                    "error": None,
                }
            else:
                nodes[name] = self._unbuilt(node, failed[name])
        return {"ok": not problems, "problems": problems, "nodes": nodes}

    def connect(self, spec: PipelineSpec, edge_text: str) -> dict[str, Any]:
        """Whether edge ``edge_text`` may be added: ``{"ok": True}`` or ``{"ok": False, "reason": ...}``."""
        try:
            edge = EdgeSpec.parse(edge_text)
        except (SpecError, ValueError) as exc:
            message = exc.message if isinstance(exc, SpecError) else str(exc)
            raise StudioError(422, message, "write 'node.port -> node.port'", field="edge") from None
        if any(str(e) == str(edge) for e in spec.edges):
            return {"ok": False, "reason": f"edge {edge} is already in the graph"}
        if edge.source == edge.target:
            return {"ok": False, "reason": f"edge {edge}: a node cannot feed itself (pipelines are acyclic)"}
        before = set(self.problems(spec))
        after = self.problems(spec.model_copy(update={"edges": [*spec.edges, edge]}))
        new = [problem for problem in after if problem not in before]
        return {"ok": True} if not new else {"ok": False, "reason": "; ".join(new)}

    def fits(self, spec: PipelineSpec, node: str) -> dict[str, Any]:
        """The installed particles of ``node``'s kind that can replace it with its edges and components kept:
        those whose swap adds no problem to the graph (``fits``), and the others with the reason."""
        if node not in spec.nodes:
            raise StudioError(
                422, f"unknown node {node!r}", "nodes: " + (", ".join(spec.nodes) or "none"), field="node"
            )
        current = spec.nodes[node]
        try:
            info = self.registry.info(current.particle)
        except SoraError as exc:
            raise StudioError(422, f"node {node!r}: {exc.message}", exc.hint, field="node") from None
        before = set(_named_out(self.problems(spec), (info.full_name,)))
        fits = [{"name": info.full_name, "description": info.description, "node": current.model_dump(mode="json")}]
        misfits = []
        for candidate in self.registry.list(kind=info.kind):
            if candidate.full_name == info.full_name:
                continue
            swapped = _swapped(current, candidate.full_name, candidate.default_weights is not None)
            changed = spec.model_copy(update={"nodes": {**spec.nodes, node: swapped}})
            after = self.problems(changed)
            named_out = _named_out(after, (candidate.full_name, info.full_name))
            new = [problem for problem, named in zip(after, named_out, strict=True) if named not in before]
            if new:
                misfits.append({"name": candidate.full_name, "reason": "; ".join(new)})
            else:
                fits.append(
                    {
                        "name": candidate.full_name,
                        "description": candidate.description,
                        "node": swapped.model_dump(mode="json"),
                    }
                )
        for entry in fits:
            entry["node"] = {k: v for k, v in entry["node"].items() if v not in (None, {})}
        return {"node": node, "current": info.full_name, "fits": fits, "misfits": misfits}

    def _unbuilt(self, node: NodeSpec, error: str) -> dict[str, Any]:
        """A node that does not build, drawn with the ports its manifest declares (when the particle is known)."""
        try:
            info = self.registry.info(node.particle)
        except SoraError:
            return {
                "particle": node.particle,
                "kind": None,
                "inputs": {},
                "outputs": {},
                "components": {},
                "optional_components": [],
                "error": error,
            }
        return {
            "particle": info.full_name,
            "kind": info.kind,
            "inputs": {port: port_json(p) for port, p in info.inputs.items()},
            "outputs": {port: port_json(p) for port, p in info.outputs.items()},
            "components": {},
            "optional_components": [],
            "error": error,
        }


def _swapped(node: NodeSpec, particle: str, has_weights: bool) -> NodeSpec:
    """``node`` running ``particle`` instead: its default config, its shipped weights when it has some, the
    node's components, device and dtype kept."""
    return node.model_copy(update={"particle": particle, "config": {}, "weights": "default" if has_weights else None})


def _named_out(problems: list[str], names: tuple[str, ...]) -> list[str]:
    """Problems with the particles' names replaced, so a swap's unchanged problems compare equal."""
    for name in names:
        problems = [problem.replace(name, "PARTICLE") for problem in problems]
    return problems
