"""Immutable value classes for the listing path, without :mod:`dataclasses`.

Importing :mod:`dataclasses` imports :mod:`inspect` (and with it ``ast``, ``dis`` and ``tokenize``),
and each ``@dataclass`` compiles its methods when the class is created: together about a sixth of a
warm ``sora list``. The value types that listing builds (:class:`~sora_core.shapes.Dim`,
:class:`~sora_core.ports.PortSpec`, :class:`~sora_core.spaces.SpaceSpec`,
:class:`~sora_core.kinds.KindSpec`, :class:`~sora_core.metadata.ParticleInfo` and
:class:`~sora_core.metadata.PluginProblem`) derive from :class:`Record` instead. Each writes its
``__init__`` and lists its fields; :class:`Record` gives what ``@dataclass(frozen=True)`` gave them:
equality and hashing over the fields, a repr, and assignment refused.
"""

from __future__ import annotations


class Record:
    """A frozen value: equal to another of the same class when its ``_fields`` are equal.

    ``_fields`` are compared, hashed and shown by ``repr`` in their order; ``_shown``, when a class sets
    it, replaces them in ``repr`` (fields that are shown but not compared). ``__init__`` sets the
    attributes through ``self.__dict__``; any later assignment raises ``AttributeError``.
    """

    __slots__ = ()
    _fields: tuple[str, ...] = ()
    _shown: tuple[str, ...] | None = None

    def _key(self) -> tuple[object, ...]:
        return tuple([getattr(self, name) for name in self._fields])

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._key() == other._key()  # type: ignore[attr-defined]
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        shown = self._fields if self._shown is None else self._shown
        return f"{type(self).__qualname__}({', '.join(f'{name}={getattr(self, name)!r}' for name in shown)})"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r} of a frozen {type(self).__name__}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r} of a frozen {type(self).__name__}")
