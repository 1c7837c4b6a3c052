"""Symbolic shapes: parsing ``"B L D=384"`` and unifying dimensions.

A shape is a space-separated list of dimensions. Each dimension is

* a symbol (``B``, ``L``): any size, the same size wherever the symbol recurs;
* a fixed size (``3``);
* a named fixed size (``D=384``): the symbol ``D`` bound to 384;
* ``_``: any size, unrelated to every other dimension;
* ``...``: zero or more leading, middle or trailing dimensions (at most once).

The empty string is a scalar (rank 0).
"""

from __future__ import annotations

import re

from sora_core.errors import PortError
from sora_core.records import Record

_SYMBOL = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class Dim(Record):
    """One dimension: a symbol, a size, or both (a named fixed size)."""

    _fields = __match_args__ = ("symbol", "size", "variadic")
    symbol: str | None
    size: int | None
    variadic: bool

    def __init__(self, symbol: str | None = None, size: int | None = None, variadic: bool = False) -> None:
        self.__dict__.update(symbol=symbol, size=size, variadic=variadic)

    def __str__(self) -> str:
        if self.variadic:
            return "..."
        if self.symbol and self.size is not None:
            return f"{self.symbol}={self.size}"
        if self.symbol:
            return self.symbol
        if self.size is not None:
            return str(self.size)
        return "_"


def parse_shape(shape: str) -> tuple[Dim, ...]:
    """Parse a symbolic shape string; raise ``PortError`` naming the bad token."""
    dims: list[Dim] = []
    for token in shape.split():
        dims.append(_parse_dim(token, shape))
    if sum(d.variadic for d in dims) > 1:
        raise PortError(f"shape {shape!r} has more than one '...'", "use '...' at most once")
    return tuple(dims)


def _parse_dim(token: str, shape: str) -> Dim:
    if token == "...":
        return Dim(variadic=True)
    if token == "_":
        return Dim()
    if token.isdigit():
        return Dim(size=int(token))
    symbol, eq, size = token.partition("=")
    if _SYMBOL.match(symbol) and (not eq or size.isdigit()):
        return Dim(symbol=symbol, size=int(size) if eq else None)
    raise PortError(
        f"shape {shape!r} has an invalid dimension {token!r}",
        "use symbols (B), sizes (3), named sizes (D=384), '_' or '...'",
    )


def format_shape(dims: tuple[Dim, ...]) -> str:
    return " ".join(str(d) for d in dims)


class ShapeUnifier:
    """Unify symbolic dimensions across many ports (a union-find over symbols).

    Symbols are qualified by a namespace (a node of a graph, or one side of an
    edge) so ``B`` of one particle and ``B`` of another are distinct until an
    edge unifies them. Each class of unified symbols may carry a known size.
    """

    def __init__(self) -> None:
        self._parent: dict[str, str] = {}
        self._size: dict[str, int] = {}
        self._origin: dict[str, str] = {}

    def _find(self, key: str) -> str:
        self._parent.setdefault(key, key)
        while self._parent[key] != key:
            self._parent[key] = self._parent[self._parent[key]]
            key = self._parent[key]
        return key

    def size_of(self, namespace: str, symbol: str) -> int | None:
        """The size known for ``symbol`` of ``namespace``, if any."""
        return self._size.get(self._find(f"{namespace}.{symbol}"))

    def bind(self, namespace: str, symbol: str, size: int, origin: str) -> str | None:
        """Record that ``symbol`` has ``size``; explain a conflict with a prior size."""
        root = self._find(f"{namespace}.{symbol}")
        known = self._size.get(root)
        if known is not None and known != size:
            return f"{symbol} is {size} here but {known} from {self._origin[root]}"
        self._size[root] = size
        self._origin.setdefault(root, origin)
        return None

    def _union(self, a: str, b: str) -> str | None:
        ra, rb = self._find(a), self._find(b)
        if ra == rb:
            return None
        sa, sb = self._size.get(ra), self._size.get(rb)
        if sa is not None and sb is not None and sa != sb:
            return f"{sa} (from {self._origin[ra]}) vs {sb} (from {self._origin[rb]})"
        self._parent[rb] = ra
        if sa is None and sb is not None:
            self._size[ra] = sb
            self._origin[ra] = self._origin[rb]
        return None

    def unify(
        self,
        produced: tuple[Dim, ...],
        produced_ns: str,
        accepted: tuple[Dim, ...],
        accepted_ns: str,
    ) -> list[str]:
        """Unify two shapes dimension by dimension; return every mismatch explained."""
        problems: list[str] = []
        for dims, ns in ((produced, produced_ns), (accepted, accepted_ns)):
            for d in dims:
                if d.symbol and d.size is not None:
                    clash = self.bind(ns, d.symbol, d.size, ns)
                    if clash:
                        problems.append(f"shape: {clash}")
        pairs = _align(produced, accepted)
        if pairs is None:
            rank = (
                f"shape: rank differs: output is '{format_shape(produced)}' ({len(produced)} dims), "
                f"input expects '{format_shape(accepted)}' ({len(accepted)} dims)"
            )
            return [*problems, rank]
        for index, p, a in pairs:
            problem = self._unify_dim(p, produced_ns, a, accepted_ns)
            if problem:
                name = f" ({a.symbol or p.symbol})" if (a.symbol or p.symbol) else ""
                problems.append(f"shape: dimension {index}{name}: {problem}")
        return problems

    def _unify_dim(self, p: Dim, p_ns: str, a: Dim, a_ns: str) -> str | None:
        p_key = f"{p_ns}.{p.symbol}" if p.symbol else None
        a_key = f"{a_ns}.{a.symbol}" if a.symbol else None
        if p_key and a_key:
            return self._union(p_key, a_key)
        if p_key or a_key:
            key, other = (p_key, a) if p_key else (a_key, p)
            assert key is not None
            if other.size is None:
                return None
            known = self._size.get(self._find(key))
            if known is not None and known != other.size:
                return f"output has {p.size or known}, input expects {a.size or known}"
            self._size[self._find(key)] = other.size
            self._origin.setdefault(self._find(key), "a fixed size")
            return None
        if p.size is not None and a.size is not None and p.size != a.size:
            return f"output has {p.size}, input expects {a.size}"
        return None


def _align(a: tuple[Dim, ...], b: tuple[Dim, ...]) -> list[tuple[int, Dim, Dim]] | None:
    """Pair dimensions of two shapes, letting '...' absorb any number of dims.

    Returns ``(index in a, dim of a, dim of b)`` triples, or ``None`` when the
    ranks cannot match.
    """
    a_var = next((i for i, d in enumerate(a) if d.variadic), None)
    b_var = next((i for i, d in enumerate(b) if d.variadic), None)
    if a_var is None and b_var is None:
        if len(a) != len(b):
            return None
        return [(i, x, y) for i, (x, y) in enumerate(zip(a, b, strict=True))]
    a_head = a_var if a_var is not None else len(a)
    b_head = b_var if b_var is not None else len(b)
    a_tail = len(a) - a_var - 1 if a_var is not None else len(a)
    b_tail = len(b) - b_var - 1 if b_var is not None else len(b)
    if a_var is None and len(a) < b_head + b_tail:
        return None
    if b_var is None and len(b) < a_head + a_tail:
        return None
    head = min(a_head, b_head)
    tail = min(a_tail, b_tail)
    pairs = [(i, a[i], b[i]) for i in range(head)]
    pairs += [(len(a) - k, a[-k], b[-k]) for k in range(tail, 0, -1)]
    return pairs
