"""Catalog search queries: parsing ``?q=&kind=&space=&port=&limit=&offset=`` and matching ports.

Port queries use the pipeline's own connection rules (:mod:`sora_core.ports`): a query
``float32[B L D=384]`` finds every port whose dtype and symbolic shape could connect to that
spec. The syntax (``port=``)::

    [in:|out:][NAME][:DTYPE[SHAPE]][@SPACE]

    embeddings                      a port named "embeddings"
    float32[B L D=384]              a port whose dtype and shape unify with float32, (B, L, 384)
    out:embeddings:float[B L D]     an output named "embeddings" of any float dtype, rank 3
    in:@text/minilm-l6@1            an input in that space (or accepting it through a glob)
    out:@latent/*                   an output in any space starting with "latent/"

``space=`` takes a tag or a tag prefix ending in ``*`` and matches any port of the particle;
inside ``port=`` the space must hold on the same port as the rest of the query.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from sora_core.errors import PortError
from sora_core.ports import ALL_DTYPES, DTYPE_FAMILIES
from sora_core.shapes import Dim, ShapeUnifier, parse_shape
from sora_registry.errors import BadRequestError

MAX_LIMIT = 500
DEFAULT_LIMIT = 50
_SPACE_QUERY = re.compile(r"^[a-z0-9][a-z0-9._/@-]*\*?$")
_PORT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_ASCII_INT = re.compile(r"^[0-9]{1,30}$")
_KIND = re.compile(r"^[a-z][a-z0-9_]*$")
_DTYPE_SHAPE = re.compile(r"^([a-z0-9]+)(?:\[([^\]]*)\])?$")
_PORT_HINT = "write a port query as [in:|out:][NAME][:DTYPE[SHAPE]][@SPACE], e.g. out:embeddings:float32[B L D=384]"


@dataclass(frozen=True)
class SpaceQuery:
    """A space tag, or a prefix when the query ends in ``*``."""

    text: str

    @property
    def is_prefix(self) -> bool:
        return self.text.endswith("*")

    @property
    def glob(self) -> str:
        """The query as an SQLite/fnmatch GLOB pattern (it holds no other glob characters)."""
        return self.text

    @classmethod
    def parse(cls, text: str, where: str) -> SpaceQuery:
        if not _SPACE_QUERY.match(text) or ("@" not in text and not text.endswith("*")):
            raise BadRequestError(
                f"{where}: {text!r} is not a space tag or a tag prefix ending in '*'",
                "use a tag such as text/minilm-l6@1, or a prefix such as text/* or latent/sora-vae*",
            )
        return cls(text)


@dataclass(frozen=True)
class PortQuery:
    """One parsed ``port=`` query: each part that is set must hold on the same port."""

    text: str
    direction: str | None = None  # "inputs" or "outputs"
    name: str | None = None
    dtype: str | None = None
    dims: tuple[Dim, ...] | None = None
    space: SpaceQuery | None = None

    @classmethod
    def parse(cls, text: str) -> PortQuery:
        rest, direction = text.strip(), None
        for prefix, side in (("in:", "inputs"), ("out:", "outputs")):
            if rest.startswith(prefix):
                rest, direction = rest[len(prefix) :], side
        rest, at, space_text = rest.partition("@")
        space = SpaceQuery.parse(space_text, f"port query {text!r}") if at else None
        name, dtype, dims = _name_and_spec(rest, text)
        if not (direction or name or dtype or space):
            raise BadRequestError(f"port query {text!r} is empty", _PORT_HINT)
        return cls(text, direction, name, dtype, dims, space)

    def accepted_dtypes(self) -> frozenset[str] | None:
        """Stored dtypes that can connect to the queried dtype (``None``: any)."""
        if self.dtype is None or self.dtype == "any":
            return None
        members = DTYPE_FAMILIES.get(self.dtype, frozenset({self.dtype}))
        families = {family for family, inside in DTYPE_FAMILIES.items() if inside & members}
        return frozenset(members | families | {self.dtype, "any"})

    def shape_matches(self, shape: str) -> bool:
        """Whether a stored port shape unifies with the queried one (always, when none was asked)."""
        if self.dims is None:
            return True
        try:
            stored = parse_shape(shape)
        except PortError:
            return False
        return not ShapeUnifier().unify(self.dims, "query", stored, "port")

    @property
    def needs_shape_check(self) -> bool:
        return self.dims is not None


def _name_and_spec(rest: str, text: str) -> tuple[str | None, str | None, tuple[Dim, ...] | None]:
    if not rest:
        return None, None, None
    name, colon, spec = rest.partition(":")
    if not colon:
        # One part: a dtype spec when it has a shape or is a dtype, else a port name.
        if "[" in rest or rest in ALL_DTYPES:
            name, spec = "", rest
        else:
            name, spec = rest, ""
    if name and not _PORT_NAME.match(name):
        raise BadRequestError(f"port query {text!r}: {name!r} is not a port name", _PORT_HINT)
    if not spec:
        return name or None, None, None
    match = _DTYPE_SHAPE.match(spec)
    if not match or match.group(1) not in ALL_DTYPES:
        raise BadRequestError(
            f"port query {text!r}: {spec!r} is not DTYPE or DTYPE[SHAPE]",
            "dtypes are " + ", ".join(sorted(ALL_DTYPES)) + "; shapes are symbolic, e.g. [B L D=384]",
        )
    dims = None
    if match.group(2) is not None:
        try:
            dims = parse_shape(match.group(2))
        except PortError as exc:
            raise BadRequestError(f"port query {text!r}: {exc.message}", exc.hint) from None
    return name or None, match.group(1), dims


@dataclass(frozen=True)
class SearchQuery:
    """A catalog search: every filter that is set must hold."""

    q: str = ""
    kind: str = ""
    space: SpaceQuery | None = None
    port: PortQuery | None = None
    limit: int = DEFAULT_LIMIT
    offset: int = 0

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> SearchQuery:
        """Parse query parameters; raise ``BadRequestError`` naming the parameter at fault."""
        kind = params.get("kind", "").strip()
        if kind and not _KIND.match(kind):
            raise BadRequestError(f"parameter kind={kind!r} is not a kind name", "kinds look like text_encoder")
        space_text = params.get("space", "").strip()
        port_text = params.get("port", "").strip()
        return cls(
            q=params.get("q", "").strip()[:200],
            kind=kind,
            space=SpaceQuery.parse(space_text, "parameter space") if space_text else None,
            port=PortQuery.parse(port_text) if port_text else None,
            limit=_int_param(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
            offset=_int_param(params, "offset", 0, 0, 10**9),
        )

    def params(self, **changes: object) -> dict[str, str]:
        """The query as URL parameters (for links to other pages of results)."""
        data = {
            "q": self.q,
            "kind": self.kind,
            "space": self.space.text if self.space else "",
            "port": self.port.text if self.port else "",
            "limit": str(self.limit) if self.limit != DEFAULT_LIMIT else "",
            "offset": str(self.offset) if self.offset else "",
        }
        data.update({k: str(v) for k, v in changes.items()})
        return {k: v for k, v in data.items() if v and v != "0"}


def _int_param(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = params.get(name, "").strip()
    if not text:
        return default
    # ASCII digits only: str.isdigit() accepts '²' and '١٢', which int() then refuses or reads.
    if not _ASCII_INT.match(text) or not low <= int(text) <= high:
        raise BadRequestError(
            f"parameter {name}={text[:40]!r} must be an integer from {low} to {high}",
            f"write {name} in ASCII digits, e.g. {name}={max(low, min(high, DEFAULT_LIMIT))}",
        )
    return int(text)


@dataclass(frozen=True)
class SearchResult:
    total: int
    particles: list[dict]

    def to_dict(self) -> dict[str, object]:
        return {"total": self.total, "particles": self.particles}
