"""Space tags: versioned names for what the numbers on a port mean.

A space tag looks like ``text/minilm-l6@1`` or ``latent/sora-vae-s8t4c16@1``: a
slash-separated path and a version. An input port may accept a glob pattern
(``text/*``) or any space (``None``).
"""

from __future__ import annotations

import fnmatch
import re

from sora_core.errors import PortError
from sora_core.records import Record

_TAG = re.compile(r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9*][a-z0-9._*-]*)*(@[0-9]+|@\*)?$")


def validate_space(tag: str) -> str:
    """Return ``tag`` if it is a well-formed space tag or pattern, else raise ``PortError``."""
    if not _TAG.match(tag) or ("@" not in tag and "*" not in tag):
        raise PortError(
            f"invalid space tag {tag!r}",
            "a space tag is a lowercase path and a version, e.g. 'text/minilm-l6@1'",
        )
    return tag


def split_space(tag: str) -> tuple[str, str | None]:
    """Split ``name@version`` into its name and version (``None`` when absent)."""
    name, _, version = tag.partition("@")
    return name, (version or None)


def space_mismatch(produced: str | None, accepted: str | None) -> str | None:
    """Explain why a value in space ``produced`` cannot feed a port accepting ``accepted``.

    Returns ``None`` when they are compatible: either side is ``None`` (any space),
    the tags are equal, or ``accepted`` is a glob pattern that ``produced`` matches.
    """
    if produced is None or accepted is None or produced == accepted:
        return None
    if any(c in accepted for c in "*?[") and fnmatch.fnmatchcase(produced, accepted):
        return None
    produced_name, produced_version = split_space(produced)
    accepted_name, accepted_version = split_space(accepted)
    if produced_name == accepted_name:
        return (
            f"space version differs: output is {produced!r} (version {produced_version}), "
            f"input expects {accepted!r} (version {accepted_version})"
        )
    return f"space differs: output is {produced!r}, input expects {accepted!r}"


class SpaceSpec(Record):
    """A space a plugin declares, so tools can describe it."""

    _fields = __match_args__ = ("tag", "description")
    tag: str
    description: str

    def __init__(self, tag: str, description: str = "") -> None:
        self.__dict__.update(tag=tag, description=description)
        validate_space(self.tag)

    def to_dict(self) -> dict[str, str]:
        return {"tag": self.tag, "description": self.description}
