"""Small text helpers shared by discovery, naming and the CLI."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[-_.]+")


def canonical_dist_name(name: str) -> str:
    """A distribution name normalised as PEP 503 does (``Sora_Seed`` -> ``sora-seed``)."""
    return _SEPARATORS.sub("-", name).lower()
