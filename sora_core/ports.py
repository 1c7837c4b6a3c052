"""Port specs and the one function that decides whether two ports connect.

A port spec says what a particle reads or writes: a dtype, a symbolic shape and
an optional space tag. This module imports neither torch nor pydantic, so the
CLI can describe ports cheaply.
"""

from __future__ import annotations

from sora_core.errors import PortError
from sora_core.records import Record
from sora_core.shapes import Dim, ShapeUnifier, format_shape, parse_shape
from sora_core.spaces import space_mismatch, validate_space

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (about 3 ms of `sora list`)
if TYPE_CHECKING:
    from typing import Any

#: dtype families: an abstract dtype on either side accepts any of its members.
DTYPE_FAMILIES: dict[str, frozenset[str]] = {
    "float": frozenset({"float16", "bfloat16", "float32", "float64"}),
    "int": frozenset({"int8", "int16", "int32", "int64", "uint8"}),
}
CONCRETE_DTYPES: frozenset[str] = frozenset().union(*DTYPE_FAMILIES.values()) | {"bool"}
#: Non-tensor values: ``str`` is a list of strings (one per batch item).
OTHER_DTYPES: frozenset[str] = frozenset({"str", "any"})
ALL_DTYPES: frozenset[str] = CONCRETE_DTYPES | frozenset(DTYPE_FAMILIES) | OTHER_DTYPES


_SPEC_HINT = "a port spec has 'dtype' and optionally 'shape', 'space', 'optional', 'description'"
_KIND_NAMES = {str: "a string", bool: "true or false"}


def _members(dtype: str) -> frozenset[str]:
    return DTYPE_FAMILIES.get(dtype, frozenset({dtype}))


class PortSpec(Record):
    """What flows through one port.

    ``dtype`` is a concrete dtype (``float32``), a family (``float``, ``int``),
    ``bool``, ``str`` (a list of strings) or ``any``. ``shape`` is symbolic
    (``"B L D=384"``). ``space`` is a versioned tag or, on inputs, a glob pattern;
    ``None`` means any space.
    """

    _fields = __match_args__ = ("dtype", "shape", "space", "optional", "description")
    dtype: str
    shape: str
    space: str | None
    optional: bool
    description: str
    #: the parsed ``shape`` (not compared or shown)
    dims: tuple[Dim, ...]

    def __init__(
        self, dtype: str, shape: str = "", space: str | None = None, optional: bool = False, description: str = ""
    ) -> None:
        self.__dict__.update(dtype=dtype, shape=shape, space=space, optional=optional, description=description)
        self._validate()

    def _validate(self) -> None:
        for name, value, kind in (
            ("dtype", self.dtype, str),
            ("shape", self.shape, str),
            ("optional", self.optional, bool),
            ("description", self.description, str),
        ):
            if not isinstance(value, kind):
                raise PortError(
                    f"port spec field {name!r} must be {_KIND_NAMES[kind]}, not {type(value).__name__} {value!r:.60}",
                    _SPEC_HINT,
                )
        if self.space is not None and not isinstance(self.space, str):
            raise PortError(
                f"port spec field 'space' must be a string or null, not {type(self.space).__name__}", _SPEC_HINT
            )
        if self.dtype not in ALL_DTYPES:
            raise PortError(
                f"unknown dtype {self.dtype!r} in port spec",
                "use one of " + ", ".join(sorted(ALL_DTYPES)),
            )
        self.__dict__["dims"] = parse_shape(self.shape)
        if self.space is not None:
            validate_space(self.space)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"dtype": self.dtype, "shape": self.shape}
        if self.space is not None:
            data["space"] = self.space
        if self.optional:
            data["optional"] = True
        if self.description:
            data["description"] = self.description
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PortSpec:
        """A port spec from its JSON object; raise ``PortError`` naming the bad field."""
        if not isinstance(data, dict):
            raise PortError(f"a port spec must be an object, not {type(data).__name__} {data!r:.60}", _SPEC_HINT)
        unknown = set(data) - {"dtype", "shape", "space", "optional", "description"}
        if unknown or "dtype" not in data:
            raise PortError(f"invalid port spec {data!r:.200}", _SPEC_HINT)
        return cls(**data)

    def __str__(self) -> str:
        text = f"{self.dtype}[{self.shape}]"
        if self.space:
            text += f" @ {self.space}"
        return text


def dtype_mismatch(produced: str, accepted: str) -> str | None:
    """Explain why a ``produced`` dtype cannot feed an ``accepted`` one, or ``None``."""
    if "any" in (produced, accepted) or _members(produced) & _members(accepted):
        return None
    return f"dtype differs: output is {produced}, input expects {accepted}"


def connection_problems(
    produced: PortSpec,
    accepted: PortSpec,
    unifier: ShapeUnifier | None = None,
    produced_ns: str = "output",
    accepted_ns: str = "input",
) -> list[str]:
    """Every reason why output port ``produced`` cannot feed input port ``accepted``.

    An empty list means the ports connect. Pass a shared ``unifier`` (with
    per-node namespaces) to unify symbolic sizes across a whole graph.
    """
    problems: list[str] = []
    dtype_problem = dtype_mismatch(produced.dtype, accepted.dtype)
    if dtype_problem:
        problems.append(dtype_problem)
    unifier = unifier or ShapeUnifier()
    problems += unifier.unify(produced.dims, produced_ns, accepted.dims, accepted_ns)
    space_problem = space_mismatch(produced.space, accepted.space)
    if space_problem:
        problems.append(space_problem)
    return problems


def can_connect(produced: PortSpec, accepted: PortSpec) -> bool:
    """Whether ``produced`` can feed ``accepted`` (see :func:`connection_problems`)."""
    return not connection_problems(produced, accepted)


__all__ = [
    "ALL_DTYPES",
    "PortSpec",
    "can_connect",
    "connection_problems",
    "dtype_mismatch",
    "format_shape",
]
