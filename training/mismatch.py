"""Captions that get a scene wrong in exactly one way: the hard negatives the video-text scorer learns from.

Each kind of mistake is one a text-to-video model makes: the wrong colour, shape or motion of one object,
two objects' attributes swapped (binding), an object left out, or one added (a second, different object, or
a copy of the one there is: the duplicated object a sampler draws most often). No mismatch describes a
held-out ``(colour, shape, motion)`` combination, so the scorer is never shown one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from sora_synth.splits import is_heldout
from sora_synth.vocabulary import COLOURS, MOTIONS, SHAPES, SIZES, ObjectAttributes

__all__ = ["MISMATCHES", "mismatch"]

#: Kinds of mistake, by the number of objects in the scene they apply to.
MISMATCHES: dict[int, tuple[str, ...]] = {
    1: ("colour", "shape", "motion", "add", "copy"),
    2: ("colour", "shape", "motion", "swap", "drop"),
}
_TRIES = 20


def _other(rng: np.random.Generator, options: Sequence[str], current: str | None) -> str:
    choices = [o for o in options if o != current]
    return choices[int(rng.integers(len(choices)))]


def _with_motion(obj: ObjectAttributes, motion: str, rng: np.random.Generator) -> ObjectAttributes:
    """``obj`` moving as ``motion``; a growing object has no size, one that stops growing gets one."""
    if motion == "growing":
        return replace(obj, motion=motion, size=None)
    size = obj.size or _other(rng, tuple(SIZES), None)
    return replace(obj, motion=motion, size=size)


def _random_object(rng: np.random.Generator) -> ObjectAttributes:
    obj = ObjectAttributes(colour=_other(rng, tuple(COLOURS), None), shape=_other(rng, SHAPES, None))
    return _with_motion(obj, _other(rng, MOTIONS, None), rng)


def _attempt(objects: list[ObjectAttributes], kind: str, rng: np.random.Generator) -> list[ObjectAttributes]:
    index = int(rng.integers(len(objects)))
    target = objects[index]
    changed = list(objects)
    if kind == "colour":
        changed[index] = replace(target, colour=_other(rng, tuple(COLOURS), target.colour))
    elif kind == "shape":
        changed[index] = replace(target, shape=_other(rng, SHAPES, target.shape))
    elif kind == "motion":
        changed[index] = _with_motion(target, _other(rng, MOTIONS, target.motion), rng)
    elif kind == "swap":
        first, second = objects
        field = ("colour", "shape", "motion")[int(rng.integers(3))]
        a, b = getattr(first, field), getattr(second, field)
        if field == "motion":
            changed = [_with_motion(first, b, rng), _with_motion(second, a, rng)]
        else:
            changed = [replace(first, **{field: b}), replace(second, **{field: a})]
    elif kind == "drop":
        changed = [objects[1 - index]]
    elif kind == "add":
        changed = [target, _random_object(rng)]
    elif kind == "copy":
        duplicate = _with_motion(target, _other(rng, MOTIONS, None), rng)
        changed = [target, duplicate] if rng.random() < 0.5 else [duplicate, target]
    else:
        raise ValueError(f"unknown mismatch {kind!r}; one of {sorted({k for ks in MISMATCHES.values() for k in ks})}")
    return changed


def _described(objects: Sequence[ObjectAttributes]) -> list[tuple[str | None, str | None, str | None]]:
    return sorted(o.triple() for o in objects)


def mismatch(objects: Sequence[ObjectAttributes], kind: str, rng: np.random.Generator) -> list[ObjectAttributes] | None:
    """Attributes that describe ``objects`` wrongly in the way ``kind`` names, or ``None`` when none was found
    (a swap of two objects that share the swapped attribute, or only held-out combinations within reach)."""
    truth = _described(objects)
    for _ in range(_TRIES):
        changed = _attempt(list(objects), kind, rng)
        if _described(changed) != truth and not any(is_heldout(o) for o in changed):
            return changed
    return None
