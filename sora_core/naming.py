"""Resolving a user's particle name: ``dist:name`` or a short name while it is unique."""

from __future__ import annotations

from collections.abc import Iterable

from sora_core.errors import AmbiguousNameError, ParticleNotFoundError
from sora_core.metadata import ParticleInfo
from sora_core.text import canonical_dist_name


def resolve(name: str, particles: Iterable[ParticleInfo]) -> ParticleInfo:
    """The one particle ``name`` refers to.

    Raises ``ParticleNotFoundError`` (with close matches) or ``AmbiguousNameError``
    (with every candidate); a collision is never resolved silently.
    """
    candidates = list(particles)
    dist, sep, short = name.rpartition(":")
    if sep:
        wanted = f"{canonical_dist_name(dist)}:{short}"
        matches = [p for p in candidates if p.full_name == wanted]
    else:
        matches = [p for p in candidates if p.name == name]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise AmbiguousNameError(name, [p.full_name for p in matches])
    import difflib  # only for the error's close matches

    known = sorted({p.full_name for p in candidates} | {p.name for p in candidates})
    raise ParticleNotFoundError(name, difflib.get_close_matches(name, known, n=3, cutoff=0.5))


def collisions(particles: Iterable[ParticleInfo]) -> dict[str, list[str]]:
    """Short names that more than one distribution provides, with the full names."""
    by_short: dict[str, list[str]] = {}
    for info in particles:
        by_short.setdefault(info.name, []).append(info.full_name)
    return {short: sorted(full) for short, full in by_short.items() if len(full) > 1}
