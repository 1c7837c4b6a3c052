"""Catalog search on SQLite: SQL filters on the ``latest`` and ``ports`` tables, then shape unification.

Every filter but a port's symbolic shape is SQL over indexed columns. A shape query is checked
in Python with the pipeline's own :class:`~sora_core.shapes.ShapeUnifier`, on the ports left
after the SQL filters (name, direction, dtype, space).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from sora_registry.search import PortQuery, SearchQuery, SearchResult, SpaceQuery


def search(con: sqlite3.Connection, query: SearchQuery) -> SearchResult:
    where, args = _latest_filters(query)
    if query.port is not None:
        port_sql, port_args = _port_filters(query.port)
        if not query.port.needs_shape_check:
            where.append(f"l.particle_id IN (SELECT p.particle_id FROM ports p WHERE {port_sql})")
            args += port_args
        else:
            candidates = con.execute(
                f"SELECT l.particle_id, p.shape FROM latest l JOIN ports p ON p.particle_id = l.particle_id "
                f"WHERE {' AND '.join([*where, port_sql])}",
                [*args, *port_args],
            )
            ids = sorted({pid for pid, shape in candidates if query.port.shape_matches(shape)})
            where, args = ["l.particle_id IN (SELECT value FROM json_each(?))"], [json.dumps(ids)]
    clause = " AND ".join(where) or "1"
    total = con.execute(f"SELECT count(*) FROM latest l WHERE {clause}", args).fetchone()[0]
    order, order_args = _order(query.q)
    rows = con.execute(
        f"SELECT l.row FROM latest l WHERE {clause} ORDER BY {order} LIMIT ? OFFSET ?",
        [*args, *order_args, query.limit, query.offset],
    )
    return SearchResult(total=total, particles=[json.loads(row) for (row,) in rows])


def _latest_filters(query: SearchQuery) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    if query.kind:
        where.append("l.kind = ?")
        args.append(query.kind)
    if query.q:
        where.append("l.search_text LIKE ? ESCAPE '\\'")
        args.append(_contains(query.q))
    if query.space is not None:
        sql, space_args = _space_filter(query.space)
        where.append(f"l.particle_id IN (SELECT p.particle_id FROM ports p WHERE {sql})")
        args += space_args
    return where, args


def _space_filter(space: SpaceQuery, table: str = "p") -> tuple[str, list[Any]]:
    """Ports in the space; for a full tag, also input patterns (``text/*``) that accept it."""
    if space.is_prefix:
        return f"{table}.space GLOB ?", [space.glob]
    return f"({table}.space = ? OR ({table}.is_pattern = 1 AND ? GLOB {table}.space))", [space.text, space.text]


def _port_filters(port: PortQuery) -> tuple[str, list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    if port.direction:
        where.append("p.direction = ?")
        args.append(port.direction)
    if port.name:
        where.append("p.name = ?")
        args.append(port.name)
    dtypes = port.accepted_dtypes()
    if dtypes is not None:
        where.append(f"p.dtype IN ({', '.join('?' * len(dtypes))})")
        args += sorted(dtypes)
    if port.space is not None:
        sql, space_args = _space_filter(port.space)
        where.append(sql)
        args += space_args
    return " AND ".join(where) or "1", args


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
