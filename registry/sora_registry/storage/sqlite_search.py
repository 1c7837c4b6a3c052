"""Catalog search on SQLite: SQL filters on the narrow ``latest`` table and the ``ports`` indexes.

Every filter is SQL. A port's symbolic shape is matched with the pipeline's own
:class:`~sora_core.shapes.ShapeUnifier` once per distinct stored shape string (they repeat:
``B L D=384`` on thousands of ports), and the matching shapes become one more SQL filter.

Port and space filters take one of two forms. When the particle-level filters (``kind``, ``q``)
already narrow the candidates, each candidate's few ports are probed (``EXISTS`` on the
``ports_particle`` index), in one ordered pass that also gives the total; otherwise the matching
ports are read once from a covering index (``IN``) and the total is a ``count(*)``. Only the
page's rows are read and decoded.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from sora_registry.search import PortQuery, SearchQuery, SearchResult, SpaceQuery


def search(con: sqlite3.Connection, query: SearchQuery) -> SearchResult:
    where, args = _particle_filters(query)
    probe = bool(where)  # kind or q narrowed the candidates: probe their ports
    if query.space is not None and not probe and not query.space.is_prefix:
        # Two index searches (the tag; the few input patterns) beat one scan testing both.
        where.append(
            "l.particle_id IN (SELECT p.particle_id FROM ports p WHERE p.space = ? "
            "UNION ALL SELECT p.particle_id FROM ports p WHERE p.is_pattern = 1 AND ? GLOB p.space)"
        )
        args += [query.space.text, query.space.text]
    elif query.space is not None:
        _add_port_filter(where, args, [_space_filter(query.space)], probe)
    if query.port is not None:
        _add_port_filter(where, args, _port_filters(con, query.port), probe)
    clause = " AND ".join(where) or "1"
    order, order_args = _order(query.q)
    ordered = f"SELECT l.particle_id FROM latest l WHERE {clause} ORDER BY {order}"
    if probe:
        # Filters evaluated per candidate: one pass, counted and paged here.
        every = [particle_id for (particle_id,) in con.execute(ordered, [*args, *order_args])]
        total, ids = len(every), every[query.offset : query.offset + query.limit]
    else:
        total = con.execute(f"SELECT count(*) FROM latest l WHERE {clause}", args).fetchone()[0]
        page = con.execute(f"{ordered} LIMIT ? OFFSET ?", [*args, *order_args, query.limit, query.offset])
        ids = [particle_id for (particle_id,) in page]
    rows = dict(
        con.execute("SELECT id, row FROM particles WHERE id IN (SELECT value FROM json_each(?))", [json.dumps(ids)])
    )
    return SearchResult(total=total, particles=[json.loads(rows[i]) for i in ids])


Condition = tuple[str, list[Any]]


def _particle_filters(query: SearchQuery) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    if query.kind:
        where.append("l.kind = ?")
        args.append(query.kind)
    if query.q:
        where.append("l.search_text LIKE ? ESCAPE '\\'")
        args.append(_contains(query.q))
    return where, args


def _add_port_filter(where: list[str], args: list[Any], conditions: list[Condition], probe: bool) -> None:
    """Require one port of the particle to meet every condition (alternatives inside one are OR-ed)."""
    sql = " AND ".join(c for c, _ in conditions) or "1"
    condition_args = [a for _, values in conditions for a in values]
    if probe:
        where.append(f"EXISTS (SELECT 1 FROM ports p WHERE p.particle_id = l.particle_id AND {sql})")
    else:
        where.append(f"l.particle_id IN (SELECT p.particle_id FROM ports p WHERE {sql})")
    args += condition_args


def _space_filter(space: SpaceQuery) -> Condition:
    """Ports in the space; for a full tag, also input patterns (``text/*``) that accept it."""
    if space.is_prefix:
        return "p.space GLOB ?", [space.glob]
    return "(p.space = ? OR (p.is_pattern = 1 AND ? GLOB p.space))", [space.text, space.text]


def _port_filters(con: sqlite3.Connection, port: PortQuery) -> list[Condition]:
    conditions: list[Condition] = []
    if port.direction:
        conditions.append(("p.direction = ?", [port.direction]))
    if port.name:
        conditions.append(("p.name = ?", [port.name]))
    dtypes = port.accepted_dtypes()
    if dtypes is not None:
        conditions.append((f"p.dtype IN ({', '.join('?' * len(dtypes))})", sorted(dtypes)))
    if port.space is not None:
        conditions.append(_space_filter(port.space))
    if port.needs_shape_check:
        shapes = [shape for (shape,) in con.execute("SELECT shape FROM shapes")]
        matching = [shape for shape in shapes if port.shape_matches(shape)]
        conditions.append(("p.shape IN (SELECT value FROM json_each(?))", [json.dumps(matching)]))
    return conditions


def _order(q: str) -> tuple[str, list[Any]]:
    """Exact short-name matches first, then name matches, then description matches; then by name."""
    if not q:
        return "l.distribution, l.short_name", []
    return (
        "CASE WHEN lower(l.short_name) = ? THEN 0 WHEN l.name_text LIKE ? ESCAPE '\\' THEN 1 ELSE 2 END, "
        "l.distribution, l.short_name",
        [q.lower(), _contains(q)],
    )


def _contains(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
