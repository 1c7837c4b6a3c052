"""Drawings of a pipeline: Mermaid, Graphviz DOT and a self-contained HTML page.

Each function takes the plain data of :meth:`sora_core.pipeline.Pipeline.describe` (nodes in
topological order, edges, pipeline inputs and outputs, each port as ``PortSpec.to_dict()``,
and per node an optional ``trace`` with ``seconds``, ``peak_memory_bytes`` and
``output_shapes``) and returns text. Nothing here imports torch, and the HTML page loads
nothing from the network: its CSS and its SVG drawing are inline.
"""

from __future__ import annotations

import html
import re
import textwrap
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["to_dot", "to_html", "to_mermaid"]

Description = Mapping[str, Any]


# --- shared helpers ------------------------------------------------------------------------


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _type_text(spec: Mapping[str, Any]) -> str:
    """``float32[B L D=256]``, with ``?`` after an optional port's type."""
    return f"{spec.get('dtype', 'any')}[{spec.get('shape', '')}]" + ("?" if spec.get("optional") else "")


def _spec_text(spec: Mapping[str, Any]) -> str:
    """``float32[B L D=256] @ text/seed-lstm@1`` (like ``str(PortSpec)``)."""
    space = spec.get("space")
    return _type_text(spec) + (f" @ {space}" if space else "")


def _endpoint(text: str) -> tuple[str, str]:
    node, _, port = str(text).partition(".")
    return node, port


def _number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number == number and number not in (float("inf"), float("-inf")) else None


def _seconds(node: Mapping[str, Any]) -> float | None:
    trace = node.get("trace")
    return _number(trace.get("seconds")) if isinstance(trace, Mapping) else None


def _memory(node: Mapping[str, Any]) -> float | None:
    trace = node.get("trace")
    return _number(trace.get("peak_memory_bytes")) if isinstance(trace, Mapping) else None


def _ms_text(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def _bytes_text(size: float) -> str:
    mib = size / 2**20
    return f"{mib / 1024:.2f} GiB" if mib >= 1024 else f"{mib:.1f} MiB"


def _trace_text(node: Mapping[str, Any]) -> str:
    """``1.23 ms, peak 301.4 MiB`` (what the trace has), or ``""``."""
    seconds, memory = _seconds(node), _memory(node)
    parts = ([_ms_text(seconds)] if seconds is not None else []) + (
        [f"peak {_bytes_text(memory)}"] if memory is not None else []
    )
    return ", ".join(parts)


def _output_shapes(node: Mapping[str, Any]) -> dict[str, str]:
    trace = node.get("trace")
    shapes = trace.get("output_shapes") if isinstance(trace, Mapping) else None
    if not isinstance(shapes, Mapping):
        return {}
    return {
        str(port): "×".join(str(size) for size in shape) if isinstance(shape, (list, tuple)) else str(shape)
        for port, shape in shapes.items()
    }


def _components(description: Description) -> list[tuple[str, str, str]]:
    """``(component node, consumer node, slot)`` for every component binding."""
    return [
        (target, node["name"], slot)
        for node in description["nodes"]
        for slot, target in (node.get("components") or {}).items()
    ]


def _layers(description: Description) -> dict[str, int]:
    """Longest-path layering: a node sits one layer right of its deepest source (or component)."""
    names = [node["name"] for node in description["nodes"]]
    layer = dict.fromkeys(names, 0)
    pairs = [(edge["source"], edge["target"]) for edge in description["edges"]]
    pairs += [(component, consumer) for component, consumer, _ in _components(description)]
    for _ in names:  # a few passes suffice; the bound only guards a hand-made order
        changed = False
        for source, target in pairs:
            if source in layer and target in layer and layer[target] <= layer[source]:
                layer[target] = layer[source] + 1
                changed = True
        if not changed:
            break
    return layer


class _Ids:
    """Unique identifiers (letters, digits, ``_``) made from arbitrary names."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str], str] = {}

    def __call__(self, prefix: str, name: str) -> str:
        key = (prefix, name)
        if key not in self._ids:
            base = f"{prefix}_{re.sub(r'[^A-Za-z0-9_]', '_', name)[:40]}"
            ident, n = base, 1
            taken = set(self._ids.values())
            while ident in taken:
                n += 1
                ident = f"{base}_{n}"
            self._ids[key] = ident
        return self._ids[key]


# --- Mermaid -------------------------------------------------------------------------------

_MERMAID_ENTITIES = {
    '"': "#quot;",
    "#": "#35;",
    "%": "#37;",
    "&": "#amp;",
    "<": "#lt;",
    ">": "#gt;",
    "`": "#96;",
    "|": "#124;",
}


def _mermaid_text(text: object) -> str:
    """Text safe inside a quoted Mermaid label (entities, no HTML, no directives, one line)."""
    return "".join(_MERMAID_ENTITIES.get(char, char) for char in _one_line(text))


def _mermaid_label(*lines: str) -> str:
    return '"' + "<br/>".join(lines) + '"'


def _mermaid_spec(spec: Mapping[str, Any]) -> list[str]:
    lines = [_mermaid_text(_type_text(spec))]
    if spec.get("space"):
        lines.append(_mermaid_text(f"@ {spec['space']}"))
    return lines


def _mermaid_link(source: str, target: str, label: str, spec: Mapping[str, Any]) -> str:
    text = _mermaid_label(_mermaid_text(label), *_mermaid_spec(spec))
    return f"    {source} -->|{text}| {target}"


def to_mermaid(description: Description) -> str:
    """A Mermaid ``flowchart LR``: particles as boxes, pipeline inputs and outputs as stadiums.

    Each edge is labelled ``port -> port`` with the type (``float32[B L D=256]``) and space.
    """
    ids = _Ids()
    lines = ["flowchart LR"]
    for name, entry in description["inputs"].items():
        label = _mermaid_label(f"<b>{_mermaid_text(name)}</b>", *_mermaid_spec(entry["spec"]))
        lines.append(f"    {ids('in', name)}([{label}])")
    for node in description["nodes"]:
        parts = [f"<b>{_mermaid_text(node['name'])}</b>", _mermaid_text(node["particle"])]
        parts.append(f"<i>{_mermaid_text(node['kind'])}</i>")
        if _trace_text(node):
            parts.append(_mermaid_text(_trace_text(node)))
        lines.append(f"    {ids('n', node['name'])}[{_mermaid_label(*parts)}]")
    for name, entry in description["outputs"].items():
        label = _mermaid_label(f"<b>{_mermaid_text(name)}</b>", *_mermaid_spec(entry["spec"]))
        lines.append(f"    {ids('out', name)}([{label}])")
    for name, entry in description["inputs"].items():
        for target in entry["targets"]:
            node, port = _endpoint(target)
            lines.append(_mermaid_link(ids("in", name), ids("n", node), f"{name} -> {port}", entry["spec"]))
    for edge in description["edges"]:
        label = f"{edge['source_port']} -> {edge['target_port']}"
        lines.append(_mermaid_link(ids("n", edge["source"]), ids("n", edge["target"]), label, edge["spec"]))
    for name, entry in description["outputs"].items():
        node, port = _endpoint(entry["source"])
        lines.append(_mermaid_link(ids("n", node), ids("out", name), f"{port} -> {name}", entry["spec"]))
    for component, consumer, slot in _components(description):
        label = _mermaid_label(_mermaid_text(f"component {slot}"))
        lines.append(f"    {ids('n', component)} -.->|{label}| {ids('n', consumer)}")
    lines.append("    classDef input fill:#e3eefb,stroke:#3d6fb4,color:#14212f")
    lines.append("    classDef output fill:#e3f4e6,stroke:#2f8a47,color:#14212f")
    if description["inputs"]:
        lines.append("    class " + ",".join(ids("in", name) for name in description["inputs"]) + " input")
    if description["outputs"]:
        lines.append("    class " + ",".join(ids("out", name) for name in description["outputs"]) + " output")
    return "\n".join(lines) + "\n"


# --- Graphviz DOT ----------------------------------------------------------------------------


def _esc(text: object) -> str:
    return html.escape(_one_line(text), quote=True)


def _dot_string(text: object) -> str:
    """A DOT double-quoted string (an escString: backslashes and quotes escaped)."""
    return '"' + _one_line(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot_port_rows(ports: Mapping[str, Any], side: str) -> list[str]:
    align = "LEFT" if side == "i" else "RIGHT"
    rows = []
    for index, (port, spec) in enumerate(ports.items()):
        space = (
            f'<BR ALIGN="{align}"/><FONT COLOR="#6b4fa0">@ {_esc(spec["space"])}</FONT>' if spec.get("space") else ""
        )
        rows.append(
            f'<TR><TD PORT="{side}{index}" ALIGN="{align}" BALIGN="{align}"><B>{_esc(port)}</B> '
            f'<FONT COLOR="#4b5563">{_esc(_type_text(spec))}</FONT>{space}</TD></TR>'
        )
    return rows


def _dot_node(node: Mapping[str, Any], ident: str) -> str:
    header = f"<B>{_esc(node['name'])}</B><BR/>{_esc(node['particle'])}<BR/><I>{_esc(node['kind'])}</I>"
    if _trace_text(node):
        header += f'<BR/><FONT COLOR="#b45309">{_esc(_trace_text(node))}</FONT>'
    rows = [f'<TR><TD BGCOLOR="{_kind_color(str(node["kind"]))}">{header}</TD></TR>']
    rows += _dot_port_rows(node["inputs"], "i")
    rows += _dot_port_rows(node["outputs"], "o")
    table = '<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4" COLOR="#64748b">' + "".join(rows)
    return f"    {ident} [label=<{table}</TABLE>>];"


def _dot_terminal(name: str, spec: Mapping[str, Any], ident: str, fill: str) -> str:
    label = f"<B>{_esc(name)}</B><BR/>{_esc(_type_text(spec))}"
    if spec.get("space"):
        label += f"<BR/>@ {_esc(spec['space'])}"
    return f'    {ident} [shape=box, style="rounded,filled", fillcolor="{fill}", label=<{label}>];'


def to_dot(description: Description) -> str:
    """A Graphviz ``digraph`` (``rankdir=LR``); each node is a table with one row per port.

    Edges leave the source's output row and enter the target's input row.
    """
    ids = _Ids()
    port_index = {
        (node["name"], side, port): f"{side}{index}"
        for node in description["nodes"]
        for side, ports in (("i", node["inputs"]), ("o", node["outputs"]))
        for index, port in enumerate(ports)
    }

    def port_ref(node: str, side: str, port: str) -> str:
        ref = port_index.get((node, side, port))
        return f"{ids('n', node)}:{ref}:{'w' if side == 'i' else 'e'}" if ref else ids("n", node)

    title = f"<B>{_esc(description['name'])}</B>"
    if description.get("description"):
        title += "".join(f"<BR/>{_esc(line)}" for line in textwrap.wrap(_one_line(description["description"]), 100))
    lines = [
        f"digraph {ids('pipeline', str(description['name']))} {{",
        f'    graph [rankdir=LR, labelloc=t, fontname="Helvetica", nodesep=0.35, ranksep=0.9, label=<{title}>];',
        '    node [shape=plain, fontname="Helvetica", fontsize=11];',
        '    edge [color="#52606d", arrowsize=0.8];',
    ]
    for name, entry in description["inputs"].items():
        lines.append(_dot_terminal(name, entry["spec"], ids("in", name), "#e3eefb"))
    lines += [_dot_node(node, ids("n", node["name"])) for node in description["nodes"]]
    for name, entry in description["outputs"].items():
        lines.append(_dot_terminal(name, entry["spec"], ids("out", name), "#e3f4e6"))
    for name, entry in description["inputs"].items():
        for target in entry["targets"]:
            node, port = _endpoint(target)
            tooltip = _dot_string(f"{name} -> {target}: {_spec_text(entry['spec'])}")
            lines.append(f"    {ids('in', name)} -> {port_ref(node, 'i', port)} [tooltip={tooltip}];")
    for edge in description["edges"]:
        source = port_ref(edge["source"], "o", edge["source_port"])
        target = port_ref(edge["target"], "i", edge["target_port"])
        tooltip = _dot_string(
            f"{edge['source']}.{edge['source_port']} -> {edge['target']}.{edge['target_port']}: "
            + _spec_text(edge["spec"])
        )
        lines.append(f"    {source} -> {target} [tooltip={tooltip}];")
    for name, entry in description["outputs"].items():
        node, port = _endpoint(entry["source"])
        tooltip = _dot_string(f"{entry['source']} -> {name}: {_spec_text(entry['spec'])}")
        lines.append(f"    {port_ref(node, 'o', port)} -> {ids('out', name)} [tooltip={tooltip}];")
    for component, consumer, slot in _components(description):
        tooltip = _dot_string(f"{consumer} calls {component} as its component {slot!r}")
        lines.append(
            f"    {ids('n', component)} -> {ids('n', consumer)} "
            f'[style=dashed, color="#6b4fa0", label={_dot_string(slot)}, tooltip={tooltip}];'
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- HTML: boxes, rows and links ---------------------------------------------------------------

_CHAR = 0.61  # advance of a monospace glyph, in ems (DejaVu Sans Mono: 0.602)
_MAX_CHARS = 44  # longer text is cut with an ellipsis (the whole text is in a tooltip)
_PAD = 10  # inner horizontal padding of a box
_ROW_PAD = 6  # vertical padding of a port row
_HEADER_PAD = 8
_BAR = 5  # height of the wall-time bar
_GAP_Y = 26  # between boxes of a column
_GAP_X = 64  # between columns
_MARGIN = 24
_DUMMY = 10  # height reserved in a column for an edge passing through it
_MIN_WIDTH = 150
_PALETTE = ("#dbe7f6", "#f6e3d3", "#dcefe0", "#eee0f5", "#f5efcf", "#d9f0f0", "#f4dbe2", "#e5e7eb")


def _kind_color(kind: str) -> str:
    return _PALETTE[zlib.crc32(kind.encode()) % len(_PALETTE)]


@dataclass
class _Line:
    text: str
    size: float
    css: str

    @property
    def shown(self) -> str:
        return self.text if len(self.text) <= _MAX_CHARS else self.text[: _MAX_CHARS - 1] + "…"

    @property
    def height(self) -> float:
        return round(self.size * 1.45)

    @property
    def width(self) -> float:
        return len(self.shown) * self.size * _CHAR


@dataclass
class _Row:
    port: str
    lines: list[_Line]
    connected: bool
    title: str
    top: float = 0.0  # relative to the box

    @property
    def height(self) -> float:
        return sum(line.height for line in self.lines) + _ROW_PAD

    @property
    def anchor(self) -> float:
        """Where edges attach: the middle of the port name's line, relative to the box."""
        return self.top + _ROW_PAD / 2 + self.lines[0].height / 2


@dataclass(eq=False)
class _Box:
    role: str  # input | node | output | dummy
    column: int
    header: list[_Line] = field(default_factory=list)
    inputs: list[_Row] = field(default_factory=list)
    outputs: list[_Row] = field(default_factory=list)
    color: str = "#e5e7eb"
    title: str = ""
    fraction: float | None = None  # wall time relative to the slowest node
    width: float = 0.0
    height: float = _DUMMY
    header_height: float = 0.0
    x: float = 0.0
    y: float = 0.0
    lane: tuple[float, float] = (0.0, 0.0)  # left and right edge of the box's column

    def anchor(self, side: str, port: str) -> float:
        """Where links attach to port ``port`` (a pipeline input or output: its middle)."""
        if self.role != "node":
            return self.height / 2
        if not port:  # a component link attaches to the header
            return self.header_height / 2
        rows = self.inputs if side == "in" else self.outputs
        for row in rows:
            if row.port == port:
                return row.anchor
        return self.height / 2


@dataclass(eq=False)
class _Link:
    chain: list[tuple[_Box, float, float]]  # (box, dy where the link enters, dy where it leaves)
    title: str
    component: bool = False  # a component binding, drawn dashed, rather than a dataflow edge


def _port_row(port: str, spec: Mapping[str, Any], connected: bool, shape: str | None = None) -> _Row:
    lines = [_Line(port, 12, "port"), _Line(_type_text(spec), 11, "type")]
    if spec.get("space"):
        lines.append(_Line(f"@ {spec['space']}", 11, "space"))
    if shape:
        lines.append(_Line(f"= {shape}", 11, "actual"))
    title = f"{port}: {_spec_text(spec)}" + (f" — {spec['description']}" if spec.get("description") else "")
    return _Row(port, lines, connected, title)


def _node_box(
    node: Mapping[str, Any], column: int, fed: set[tuple[str, str]], used: set[tuple[str, str]], slowest: float
) -> _Box:
    header = [_Line(str(node["name"]), 13, "name"), _Line(str(node["particle"]), 11, "particle")]
    header.append(_Line(str(node["kind"]), 11, "kind"))
    seconds = _seconds(node)
    if _trace_text(node):
        header.append(_Line(_trace_text(node), 11, "time"))
    shapes = _output_shapes(node)
    name = node["name"]
    return _Box(
        "node",
        column,
        header,
        inputs=[_port_row(p, s, (name, p) in fed) for p, s in node["inputs"].items()],
        outputs=[_port_row(p, s, (name, p) in used, shapes.get(p)) for p, s in node["outputs"].items()],
        color=_kind_color(str(node["kind"])),
        title=f"{name}: {node['particle']} ({node['kind']})",
        fraction=(seconds / slowest if slowest > 0 else 0.0) if seconds is not None else None,
    )


def _terminal_box(role: str, name: str, spec: Mapping[str, Any], column: int) -> _Box:
    row = _port_row(name, spec, True)
    row.lines = row.lines[1:]  # the name is the header
    header = [_Line(name, 13, "name")]
    color = "#d6e6fa" if role == "input" else "#d3efd9"
    title = f"pipeline {role} {name}: {_spec_text(spec)}"
    if role == "input":
        return _Box(role, column, header, outputs=[row], color=color, title=title)
    return _Box(role, column, header, inputs=[row], color=color, title=title)


def _measure(box: _Box) -> None:
    """Width, height, and each row's place within the box."""
    if box.role == "dummy":
        return
    lines = box.header + [line for row in box.inputs + box.outputs for line in row.lines]
    box.width = max(_MIN_WIDTH if box.role == "node" else 0, max(line.width for line in lines) + 2 * _PAD + 8)
    if box.role != "node":  # a pipeline input or output: its name, then its one row
        box.header_height = _HEADER_PAD + box.header[0].height
        row = (box.inputs + box.outputs)[0]
        row.top = box.header_height - _ROW_PAD / 2
        box.height = row.top + row.height + _HEADER_PAD - _ROW_PAD / 2
        return
    box.header_height = sum(line.height for line in box.header) + 2 * _HEADER_PAD
    box.header_height += _BAR + 4 if box.fraction is not None else 0
    top = box.header_height + 4
    for row in box.inputs:
        row.top, top = top, top + row.height
    if box.inputs and box.outputs:
        top += 8
    for row in box.outputs:
        row.top, top = top, top + row.height
    box.height = top + 4


def _graph(description: Description) -> tuple[list[list[_Box]], list[_Link]]:
    """Columns of boxes (inputs, one per layer, outputs) and the links between their ports."""
    layer = _layers(description)
    last = max(layer.values(), default=0) + 2
    columns: list[list[_Box]] = [[] for _ in range(last + 1)]
    fed = {(e["target"], e["target_port"]) for e in description["edges"]}
    fed |= {_endpoint(t) for entry in description["inputs"].values() for t in entry["targets"]}
    used = {(e["source"], e["source_port"]) for e in description["edges"]}
    used |= {_endpoint(entry["source"]) for entry in description["outputs"].values()}
    slowest = max((s for s in map(_seconds, description["nodes"]) if s is not None), default=0.0)
    boxes: dict[tuple[str, str], _Box] = {}
    for name, entry in description["inputs"].items():
        boxes["input", name] = _terminal_box("input", name, entry["spec"], 0)
    for node in description["nodes"]:
        boxes["node", node["name"]] = _node_box(node, layer[node["name"]] + 1, fed, used, slowest)
    for name, entry in description["outputs"].items():
        boxes["output", name] = _terminal_box("output", name, entry["spec"], last)
    for box in boxes.values():
        _measure(box)
        columns[box.column].append(box)
    ends: list[tuple[_Box, str, _Box, str, str]] = []
    for name, entry in description["inputs"].items():
        for target in entry["targets"]:
            node, port = _endpoint(target)
            if ("node", node) in boxes:
                title = f"input {name} -> {target}: {_spec_text(entry['spec'])}"
                ends.append((boxes["input", name], name, boxes["node", node], port, title))
    for edge in description["edges"]:
        if ("node", edge["source"]) in boxes and ("node", edge["target"]) in boxes:
            title = f"{edge['source']}.{edge['source_port']} -> {edge['target']}.{edge['target_port']}: "
            title += _spec_text(edge["spec"])
            source, target = boxes["node", edge["source"]], boxes["node", edge["target"]]
            ends.append((source, edge["source_port"], target, edge["target_port"], title))
    for name, entry in description["outputs"].items():
        node, port = _endpoint(entry["source"])
        if ("node", node) in boxes:
            title = f"{entry['source']} -> output {name}: {_spec_text(entry['spec'])}"
            ends.append((boxes["node", node], port, boxes["output", name], name, title))
    links = [_link(columns, *end) for end in ends]
    for component, consumer, slot in _components(description):
        if ("node", component) in boxes and ("node", consumer) in boxes:
            title = f"component {slot}: {consumer} calls {component}"
            link = _link(columns, boxes["node", component], "", boxes["node", consumer], "", title)
            link.component = True
            links.append(link)
    return columns, links


def _link(columns: list[list[_Box]], source: _Box, out: str, target: _Box, port: str, title: str) -> _Link:
    """A link from an output row to an input row, through one placeholder per column it crosses."""
    chain = [(source, source.anchor("out", out), source.anchor("out", out))]
    for column in range(source.column + 1, target.column):
        dummy = _Box("dummy", column)
        columns[column].append(dummy)
        chain.append((dummy, _DUMMY / 2, _DUMMY / 2))
    chain.append((target, target.anchor("in", port), target.anchor("in", port)))
    return _Link(chain, title)


# --- HTML: layout ------------------------------------------------------------------------------


def _stack(column: Sequence[_Box]) -> None:
    top = 0.0
    for box in column:
        box.y, top = top, top + box.height + _GAP_Y


_Neighbours = dict[int, list[tuple[_Box, float, float]]]


def _neighbours(links: Iterable[_Link]) -> tuple[_Neighbours, _Neighbours]:
    """Per box (by id): its predecessors and successors as (box, their dy, our dy)."""
    before: _Neighbours = {}
    after: _Neighbours = {}
    for link in links:
        for (a, _, a_out), (b, b_in, _) in zip(link.chain, link.chain[1:], strict=False):
            before.setdefault(id(b), []).append((a, a_out, b_in))
            after.setdefault(id(a), []).append((b, b_in, a_out))
    return before, after


def _desired(box: _Box, neighbours: _Neighbours) -> float:
    """The top that puts ``box``'s ports level, on average, with the ports they connect to."""
    links = neighbours.get(id(box))
    if not links:
        return box.y
    return sum(other.y + other_dy - own_dy for other, other_dy, own_dy in links) / len(links)


def _order(columns: list[list[_Box]], before: _Neighbours, after: _Neighbours) -> None:
    """Barycentre sweeps: order each column by where its neighbours' ports are."""
    for column in columns:
        _stack(column)
    sweeps = [(range(1, len(columns)), before), (range(len(columns) - 2, -1, -1), after)] * 2
    for indices, neighbours in sweeps:
        for index in indices:
            columns[index].sort(key=lambda box, n=neighbours: _desired(box, n) + box.height / 2)
            _stack(columns[index])


def _crossings(column: Sequence[_Box], after: _Neighbours) -> int:
    """How many links leaving ``column`` cross on their way to the next column (as stacked)."""
    ends = [(box.y + own, other.y + theirs) for box in column for other, theirs, own in after.get(id(box), [])]
    return sum((a1 - a2) * (b1 - b2) < 0 for i, (a1, b1) in enumerate(ends) for a2, b2 in ends[i + 1 :])


def _transpose(columns: list[list[_Box]], after: _Neighbours) -> None:
    """Swap neighbours within a column while that removes crossings the barycentre sweeps left."""

    def around(index: int) -> int:
        return sum(_crossings(columns[i], after) for i in (index - 1, index) if i >= 0)

    for _ in range(8):
        improved = False
        for index, column in enumerate(columns):
            for j in range(len(column) - 1):
                current = around(index)
                column[j], column[j + 1] = column[j + 1], column[j]
                _stack(column)
                if around(index) < current:
                    improved = True
                else:
                    column[j], column[j + 1] = column[j + 1], column[j]
                    _stack(column)
        if not improved:
            return


def _pack(desired: Sequence[float], heights: Sequence[float]) -> list[float]:
    """Tops closest (least squares) to ``desired`` that keep the order and a gap between boxes.

    With ``offset_i`` the stacked top of box ``i``, the tops minus their offsets must not
    decrease: an isotonic regression, solved by pooling adjacent violators.
    """
    offsets, top = [], 0.0
    for height in heights:
        offsets.append(top)
        top += height + _GAP_Y
    blocks: list[list[float]] = []  # [sum, count]
    for want, offset in zip(desired, offsets, strict=True):
        blocks.append([want - offset, 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    values = [total / count for total, count in blocks for _ in range(int(count))]
    return [value + offset for value, offset in zip(values, offsets, strict=True)]


def _place(columns: list[list[_Box]], links: list[_Link]) -> tuple[float, float]:
    """Order and place every box; return the drawing's width and height."""
    before, after = _neighbours(links)
    _order(columns, before, after)
    _transpose(columns, after)
    sweeps = [(range(1, len(columns)), before), (range(len(columns) - 2, -1, -1), after)] * 3
    sweeps.append((range(1, len(columns)), before))
    for indices, neighbours in sweeps:
        for index in indices:
            column = columns[index]
            tops = _pack([_desired(box, neighbours) for box in column], [box.height for box in column])
            for box, top in zip(column, tops, strict=True):
                box.y = top
    boxes = [box for column in columns for box in column]
    shift = _MARGIN - min((box.y for box in boxes), default=0.0)
    x = float(_MARGIN)
    for column in columns:
        width = max((box.width for box in column), default=0.0)
        for box in column:
            box.y += shift
            box.lane = (x, x + width)
            if box.role == "dummy":  # a link's straight run across the whole column
                box.x, box.width = x, width
            else:
                box.x = x + (width - box.width) / 2
        x += (width + _GAP_X) if width else 0.0
    height = max((box.y + box.height for box in boxes), default=0.0) + _MARGIN
    return x - _GAP_X + _MARGIN, height


# --- HTML: drawing ------------------------------------------------------------------------------


def _text(x: float, y: float, line: _Line, anchor: str = "start") -> str:
    tip = f"<title>{_esc(line.text)}</title>" if line.shown != line.text else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" class="{line.css}" text-anchor="{anchor}" font-size="{line.size:g}">'
        f"{tip}{html.escape(line.shown)}</text>"
    )


def _lines(x: float, top: float, lines: Sequence[_Line], anchor: str = "start") -> list[str]:
    parts = []
    for line in lines:
        parts.append(_text(x, top + line.height / 2, line, anchor))
        top += line.height
    return parts


def _rounded_top(x: float, y: float, width: float, height: float, radius: float) -> str:
    return (
        f"M{x:.1f},{y + height:.1f} V{y + radius:.1f} A{radius},{radius} 0 0 1 {x + radius:.1f},{y:.1f} "
        f"H{x + width - radius:.1f} A{radius},{radius} 0 0 1 {x + width:.1f},{y + radius:.1f} "
        f"V{y + height:.1f} Z"
    )


def _draw_rows(box: _Box, rows: Sequence[_Row], side: str) -> list[str]:
    parts = []
    for row in rows:
        top = box.y + row.top
        left = side == "in" or box.role != "node"  # a node's outputs are right-aligned, by their ports
        x = box.x + _PAD + (4 if box.role != "node" else 2) if left else box.x + box.width - _PAD - 2
        dot_x = box.x if side == "in" else box.x + box.width
        state = "connected" if row.connected else "open"
        parts.append(f'<g class="row"><title>{_esc(row.title)}</title>')
        parts.append(
            f'<rect class="row-hit" x="{box.x:.1f}" y="{top:.1f}" width="{box.width:.1f}" height="{row.height:.1f}"/>'
        )
        parts += _lines(x, top + _ROW_PAD / 2, row.lines, "start" if left else "end")
        cy = box.y + box.anchor(side, row.port)
        parts.append(f'<circle class="dot {state}" cx="{dot_x:.1f}" cy="{cy:.1f}" r="4"/></g>')
    return parts


def _draw_box(box: _Box) -> str:
    radius = 12 if box.role != "node" else 6
    parts = [f'<g class="box {box.role}"><title>{_esc(box.title)}</title>']
    parts.append(
        f'<rect class="body" x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" height="{box.height:.1f}" '
        f'rx="{radius}"/>'
    )
    header_height = box.header_height if box.role == "node" else box.height
    parts.append(
        f'<path class="header" fill="{box.color}" d="{_rounded_top(box.x, box.y, box.width, header_height, radius)}"/>'
        if box.role == "node"
        else f'<rect class="header" fill="{box.color}" x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" '
        f'height="{box.height:.1f}" rx="{radius}"/>'
    )
    parts += _lines(box.x + _PAD + (0 if box.role == "node" else 4), box.y + _HEADER_PAD, box.header)
    if box.fraction is not None:
        bar_y = box.y + box.header_height - _HEADER_PAD - _BAR + 2
        track = box.width - 2 * _PAD
        hue = round(120 * (1 - box.fraction))
        parts.append(
            f'<rect class="track" x="{box.x + _PAD:.1f}" y="{bar_y:.1f}" width="{track:.1f}" height="{_BAR}"/>'
        )
        parts.append(
            f'<rect class="bar" x="{box.x + _PAD:.1f}" y="{bar_y:.1f}" width="{max(track * box.fraction, 2):.1f}" '
            f'height="{_BAR}" fill="hsl({hue}, 65%, 45%)"/>'
        )
    if box.role == "node" and box.inputs and box.outputs:
        divider = box.y + box.outputs[0].top - 4
        parts.append(
            f'<line class="divider" x1="{box.x + _PAD:.1f}" y1="{divider:.1f}" '
            f'x2="{box.x + box.width - _PAD:.1f}" y2="{divider:.1f}"/>'
        )
    parts.append(
        f'<rect class="outline" x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" height="{box.height:.1f}" '
        f'rx="{radius}"/>'
    )
    parts += _draw_rows(box, box.inputs, "in")
    parts += _draw_rows(box, box.outputs, "out")
    parts.append("</g>")
    return "\n".join(parts)


def _path(link: _Link) -> str:
    """Straight runs within columns, curves only in the gaps between them, an arrow at the end."""
    first, first_dy, _ = link.chain[0]
    x, y = first.lane[1], first.y + first_dy
    commands = [f"M{first.x + first.width:.1f},{y:.1f}", f"H{x:.1f}"]
    for box, dy_in, dy_out in link.chain[1:]:
        end = box.lane[1] if box.role == "dummy" else box.x - 6  # stop short of the port's dot
        x2, y2 = min(box.lane[0], end), box.y + dy_in
        bend = max((x2 - x) / 2, 20.0)
        commands.append(f"C{x + bend:.1f},{y:.1f} {x2 - bend:.1f},{y2:.1f} {x2:.1f},{y2:.1f}")
        if end > x2:
            commands.append(f"H{end:.1f}")
        x, y = end, box.y + dy_out
    return " ".join(commands)


def _draw_link(link: _Link) -> str:
    d = _path(link)
    return (
        f'<g class="edge"><title>{_esc(link.title)}</title><path class="hit" d="{d}"/>'
        f'<path class="wire{" component" if link.component else ""}" d="{d}" marker-end="url(#arrow)"/></g>'
    )


def _svg(description: Description) -> str:
    columns, links = _graph(description)
    width, height = _place(columns, links)
    parts = [
        f'<svg class="graph" width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'role="img" aria-label="pipeline {_esc(description["name"])}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'markerUnits="userSpaceOnUse" orient="auto"><path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker></defs>',
    ]
    parts += [_draw_link(link) for link in links]
    parts += [_draw_box(box) for column in columns for box in column if box.role != "dummy"]
    parts.append("</svg>")
    return "\n".join(parts)


# --- HTML: page ----------------------------------------------------------------------------------

_CSS = """
:root { color-scheme: light; }
body { margin: 0; padding: 20px 28px; background: #f8fafc; color: #1f2933;
  font: 14px/1.45 "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; }
h1 { margin: 0 0 4px; font-size: 22px; }
h1 small { color: #64748b; font-weight: normal; font-size: 14px; margin-left: 8px; }
p.description { margin: 0 0 8px; max-width: 80em; color: #334155; }
p.meta { margin: 0 0 10px; color: #52606d; font-size: 13px; }
ul.legend { display: flex; flex-wrap: wrap; gap: 6px 18px; list-style: none; margin: 0 0 12px; padding: 0;
  font-size: 12px; color: #52606d; }
ul.legend li { display: flex; align-items: center; gap: 6px; }
.swatch { display: inline-block; width: 18px; height: 12px; border: 1px solid #64748b; border-radius: 3px; }
.swatch.input { background: #d6e6fa; border-radius: 6px; } .swatch.output { background: #d3efd9; border-radius: 6px; }
.swatch.node { background: #fff; } .swatch.bar { height: 5px; border: 0; background: hsl(30, 65%, 45%); }
.swatch.dot, .swatch.open { width: 8px; height: 8px; border-radius: 50%; background: #52606d; border-color: #52606d; }
.swatch.open { background: #fff; }
.canvas { display: inline-block; max-width: 100%; box-sizing: border-box; overflow: auto;
  background: #fff; border: 1px solid #d8dee6; border-radius: 8px; }
svg.graph { display: block; font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; }
svg .body { fill: #fff; } svg .outline { fill: none; stroke: #64748b; stroke-width: 1.2; }
svg .box.input .outline { stroke: #3d6fb4; } svg .box.output .outline { stroke: #2f8a47; }
svg .divider { stroke: #cbd2d9; stroke-dasharray: 3 3; }
svg text { fill: #1f2933; dominant-baseline: central; }
svg .name { font-weight: bold; } svg .particle { fill: #334155; } svg .kind { fill: #64748b; font-style: italic; }
svg .time { fill: #9a3412; } svg .port { font-weight: bold; } svg .type { fill: #475569; }
svg .space { fill: #6b4fa0; } svg .actual { fill: #15803d; }
svg .track { fill: #e4e7eb; } svg .row-hit { fill: transparent; } svg .row:hover .row-hit { fill: #f1f5f9; }
svg .dot { stroke: #52606d; stroke-width: 1.5; } svg .dot.connected { fill: #52606d; } svg .dot.open { fill: #fff; }
svg .wire { fill: none; stroke: #7b8794; stroke-width: 1.6; }
svg .wire.component { stroke: #6b4fa0; stroke-dasharray: 6 4; }
svg .hit { fill: none; stroke: transparent; stroke-width: 10; }
svg .edge:hover .wire { stroke: #d9480f; stroke-width: 2.6; }
svg .arrowhead { fill: #7b8794; }
section.trace { margin-top: 18px; }
h2 { font-size: 16px; margin: 0 0 6px; }
table { border-collapse: collapse; background: #fff; font-size: 13px; }
th, td { border: 1px solid #d8dee6; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #eef2f6; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; }
.timebar { display: inline-block; height: 6px; border-radius: 3px; vertical-align: middle; margin-left: 8px; }
"""


def _legend(traced: bool) -> str:
    items = [
        ('<span class="swatch input"></span>', "pipeline input"),
        ('<span class="swatch node"></span>', "particle: node, particle, kind, then input and output ports"),
        ('<span class="swatch output"></span>', "pipeline output"),
        ('<span class="swatch dot"></span>', "connected port"),
        ('<span class="swatch open"></span>', "unconnected port"),
        ("<code>?</code>", "optional input"),
        ("<code>@</code>", "space"),
    ]
    if traced:
        items.append(('<span class="swatch bar"></span>', "wall time relative to the slowest node"))
        items.append(("<code>=</code>", "traced output shape"))
    return '<ul class="legend">' + "".join(f"<li>{mark} {html.escape(text)}</li>" for mark, text in items) + "</ul>"


def _summary(description: Description) -> str:
    counts = [
        (len(description["nodes"]), "node"),
        (len(description["edges"]), "edge"),
        (len(description["inputs"]), "input"),
        (len(description["outputs"]), "output"),
    ]
    text = ", ".join(f"{n} {word}{'s' if n != 1 else ''}" for n, word in counts)
    timed = [(s, node["name"]) for node in description["nodes"] if (s := _seconds(node)) is not None]
    if timed:
        slowest = max(timed)
        text += (
            f"; traced: {_ms_text(sum(s for s, _ in timed))} in nodes, slowest {slowest[1]} ({_ms_text(slowest[0])})"
        )
    return html.escape(text)


def _trace_table(description: Description) -> str:
    nodes = [node for node in description["nodes"] if isinstance(node.get("trace"), Mapping)]
    if not nodes:
        return ""
    slowest = max((_seconds(node) or 0.0 for node in nodes), default=0.0)
    rows = []
    for node in nodes:
        seconds, memory = _seconds(node), _memory(node)
        fraction = (seconds or 0.0) / slowest if slowest > 0 else 0.0
        bar = (
            f'<span class="timebar" style="width:{80 * fraction:.0f}px;'
            f'background:hsl({round(120 * (1 - fraction))}, 65%, 45%)"></span>'
        )
        shapes = ", ".join(f"{port} {shape}" for port, shape in _output_shapes(node).items())
        rows.append(
            f"<tr><td>{_esc(node['name'])}</td><td>{_esc(node['particle'])}</td>"
            f'<td class="num">{_ms_text(seconds) if seconds is not None else ""}{bar}</td>'
            f'<td class="num">{_bytes_text(memory) if memory is not None else ""}</td>'
            f"<td><code>{_esc(shapes)}</code></td></tr>"
        )
    return (
        '<section class="trace"><h2>Trace</h2><table><thead><tr><th>node</th><th>particle</th><th>wall time</th>'
        "<th>peak memory</th><th>output shapes</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></section>"
    )


def to_html(description: Description) -> str:
    """One self-contained HTML page: title, legend, the graph as inline SVG, and the trace if any.

    Nodes are laid out in columns by longest path; each box lists its ports with dtype,
    symbolic shape and space, and edges run from output rows to input rows. A traced node
    shows its wall time and peak memory, and a bar of its time relative to the slowest node.
    The page needs no network and no JavaScript (its Content-Security-Policy forbids both).
    """
    name = _esc(description["name"])
    traced = any(isinstance(node.get("trace"), Mapping) for node in description["nodes"])
    about = description.get("description") or ""
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{name} · sora pipeline</title>",
            f"<style>{_CSS}</style>",
            "</head>",
            "<body>",
            f"<header><h1>{name}<small>sora pipeline</small></h1>",
            f'<p class="description">{html.escape(str(about))}</p>' if about else "",
            f'<p class="meta">{_summary(description)}</p>',
            _legend(traced),
            "</header>",
            f'<main><div class="canvas">{_svg(description)}</div>',
            _trace_table(description),
            "</main>",
            "</body>",
            "</html>",
            "",
        ]
    )
