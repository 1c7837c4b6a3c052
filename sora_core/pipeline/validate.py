"""Build-time checks of a pipeline graph: every problem found, each naming node, port and specs.

Checked: unknown nodes and ports, every edge's dtype/shape/space (symbolic sizes are
unified across the whole graph, one namespace per node), required inputs left
unconnected, inputs fed twice, and cycles. For a failing edge, installed particles
that would fit are suggested.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from sora_core.pipeline.spec import EdgeSpec, PipelineSpec, parse_endpoint
from sora_core.ports import PortSpec, connection_problems
from sora_core.shapes import ShapeUnifier

if TYPE_CHECKING:
    from sora_core.particle import Particle
    from sora_core.registry import Registry


def topological_order(nodes: list[str], edges: list[EdgeSpec]) -> tuple[list[str], list[str]]:
    """Nodes in dependency order (ties in spec order), and the nodes left on cycles."""
    indegree = {n: 0 for n in nodes}
    children: dict[str, list[str]] = {n: [] for n in nodes}
    for edge in edges:
        if edge.source in indegree and edge.target in indegree:
            indegree[edge.target] += 1
            children[edge.source].append(edge.target)
    ready = [n for n in nodes if indegree[n] == 0]
    order: list[str] = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        for child in children[node]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    return order, [n for n in nodes if n not in order]


def graph_problems(
    spec: PipelineSpec, particles: Mapping[str, Particle], registry: Registry | None = None
) -> list[str]:
    """Every problem of ``spec`` wired to the built ``particles`` (nodes that failed to build are skipped)."""
    problems: list[str] = []
    ports_in = {name: p.input_ports() for name, p in particles.items()}
    ports_out = {name: p.output_ports() for name, p in particles.items()}
    unifier = ShapeUnifier()
    fed: dict[tuple[str, str], list[str]] = {}

    def endpoint(node: str, port: str, side: str, where: str) -> PortSpec | None:
        if node not in spec.nodes:
            problems.append(f"{where}: unknown node {node!r} (nodes: {', '.join(spec.nodes)})")
            return None
        if node not in particles:
            return None  # its build failure is reported already
        table = ports_out[node] if side == "output" else ports_in[node]
        if port not in table:
            problems.append(
                f"{where}: node {node!r} ({particles[node].registered_name}) has no {side} port {port!r}; "
                f"its {side} ports are {', '.join(table) or 'none'}"
            )
            return None
        return table[port]

    for edge in spec.edges:
        produced = endpoint(edge.source, edge.source_port, "output", f"edge {edge}")
        accepted = endpoint(edge.target, edge.target_port, "input", f"edge {edge}")
        fed.setdefault((edge.target, edge.target_port), []).append(f"edge {edge}")
        if produced is None or accepted is None:
            continue
        found = connection_problems(produced, accepted, unifier, edge.source, edge.target)
        if found:
            text = f"edge {edge}: " + "; ".join(found) + f" (output {produced}, input {accepted})"
            problems.append(text + _suggestions(edge, produced, accepted, particles, registry))
    for name, targets in spec.inputs.items():
        first: tuple[str, PortSpec] | None = None
        for target in targets:
            node, port = parse_endpoint(target)
            fed.setdefault((node, port), []).append(f"pipeline input {name!r}")
            accepted = endpoint(node, port, "input", f"pipeline input {name!r}")
            if accepted is None:
                continue
            if first is None:
                first = (node, accepted)
                continue
            found = connection_problems(first[1], accepted, unifier, first[0], node)
            if found:
                problems.append(f"pipeline input {name!r} feeds ports that disagree: {target}: " + "; ".join(found))
    for name, source in spec.outputs.items():
        node, port = parse_endpoint(source)
        endpoint(node, port, "output", f"pipeline output {name!r}")
    for (node, port), sources in fed.items():
        if len(sources) > 1:
            problems.append(f"input {node}.{port} is fed more than once: by {' and '.join(sources)}")
    problems += component_problems(spec, particles)
    passive = component_only_nodes(spec)
    for node, ports in ports_in.items():
        if node in passive:
            continue  # only called by the nodes it is a component of, never run on its own
        for port, port_spec in ports.items():
            if not port_spec.optional and (node, port) not in fed:
                problems.append(
                    f"required input {node}.{port} ({port_spec}) is not connected: "
                    f"add an edge into it or a pipeline input (inputs: {{name: {node}.{port}}})"
                )
    _, cyclic = topological_order(list(spec.nodes), spec.edges)
    if cyclic:
        problems.append(f"the graph has a cycle through {', '.join(cyclic)}: dataflow pipelines must be acyclic")
    return problems


def component_only_nodes(spec: PipelineSpec) -> set[str]:
    """Nodes bound as components that nothing feeds and nothing reads: they are called, never run."""
    bound = {target for node in spec.nodes.values() for target in node.components.values()}
    wired = {e.source for e in spec.edges} | {e.target for e in spec.edges}
    wired |= {parse_endpoint(t)[0] for targets in spec.inputs.values() for t in targets}
    wired |= {parse_endpoint(source)[0] for source in spec.outputs.values()}
    return bound - wired


def component_problems(spec: PipelineSpec, particles: Mapping[str, Particle]) -> list[str]:
    """Every unknown, unbound, self-bound or wrong-kind component slot."""
    problems: list[str] = []
    for name, node in spec.nodes.items():
        particle = particles.get(name)
        if particle is None:
            continue
        slots = particle.component_kinds()
        for slot, target in node.components.items():
            where = f"node {name!r} ({particle.registered_name}) component {slot!r}"
            if slot not in slots:
                problems.append(f"{where}: no such slot; its slots are {', '.join(slots) or 'none'}")
            elif target == name:
                problems.append(f"{where}: a node cannot be its own component")
            elif target not in spec.nodes:
                problems.append(f"{where}: unknown node {target!r} (nodes: {', '.join(spec.nodes)})")
            elif target in particles and particles[target].kind != slots[slot]:
                found = particles[target]
                problems.append(
                    f"{where}: needs a {slots[slot]}, but node {target!r} ({found.registered_name}) is a {found.kind}"
                )
        bound = {
            slot: particles[target]
            for slot, target in node.components.items()
            if slot in slots and target in particles and target != name and particles[target].kind == slots[slot]
        }
        if bound:
            where = f"node {name!r} ({particle.registered_name})"
            problems += [f"{where} components: {problem}" for problem in particle.component_problems(bound)]
        optional = particle.optional_components()
        for slot, kind in slots.items():
            if slot not in node.components and slot not in optional:
                problems.append(
                    f"node {name!r} ({particle.registered_name}) needs a {kind} as component {slot!r}: "
                    f"add components: {{{slot}: NODE}} to the node, naming a {kind} node"
                )
    return problems


def _suggestions(
    edge: EdgeSpec,
    produced: PortSpec,
    accepted: PortSpec,
    particles: Mapping[str, Particle],
    registry: Registry | None,
) -> str:
    """Installed particles that would make this edge fit, replacing either end.

    A node's own particle is never offered as a swap for it: when it fits with its default config, the
    node's config is what to change, and that is said instead.
    """
    if registry is None:
        return ""
    fits: list[str] = []
    own: list[str] = []
    ends = ((edge.target, edge.target_port, "inputs"), (edge.source, edge.source_port, "outputs"))
    for node, port_name, side in ends:
        current = particles[node].registered_name
        for info in registry.list(kind=particles[node].kind):
            port = getattr(info, side).get(port_name)
            if port is None:
                continue
            if side == "inputs" and connection_problems(produced, port):
                continue
            if side == "outputs" and connection_problems(port, accepted):
                continue
            if info.full_name == current:
                own.append(f"node {node!r} would fit with {current}'s default config (change its config)")
            else:
                fits.append(f"{info.full_name} as {node}")
    text = f"; installed particles that would fit (default config): {', '.join(fits)}" if fits else ""
    return text + "".join(f"; {line}" for line in own)
