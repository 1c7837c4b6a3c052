"""Scenes of the synthetic domain: sampling them from a seeded generator and rendering them to pixels.

A :class:`Scene` is a background colour and one or two :class:`ObjectSpec`\\ s. Geometry is
resolution-independent: an object's path is a list of :class:`Keyframe`\\ s (clip time ``u`` in
``[0, 1]``, centre ``x``, ``y`` as fractions of the width and height, ``radius`` -- half the side of
its bounding box -- as a fraction of ``min(height, width)``), linearly interpolated. Per-frame
states (:meth:`Scene.states`) and the events where a path changes course (:meth:`Scene.events`)
come from the keyframes, so a motion with more segments ("moves right, then stops") is one more
keyframe, not new rendering code.

Rendering is vectorised numpy over ``(T, H, W)``: each shape's signed distance gives an
anti-aliased coverage, composited over the background in object order. A 9x64x64 clip of two
objects takes well under a millisecond.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from sora_core.errors import SoraError
from sora_synth.vocabulary import BACKGROUNDS, COLOURS, DIRECTIONS, MOTIONS, SHAPES, SIZES, ObjectAttributes

if TYPE_CHECKING:
    import torch

__all__ = [
    "Event",
    "Keyframe",
    "ObjectSpec",
    "ObjectState",
    "Scene",
    "SceneError",
    "render",
    "render_tensor",
    "sample_scene",
]

#: Distance kept from the frame's edges, as a fraction of the axis.
MARGIN = 0.02
#: Gap kept between two objects' bounding boxes in every frame, as a fraction of min(height, width).
GAP = 0.09
#: Travel over the clip for left/right/up/down, as a fraction of the axis (>= 2.4 px per frame at 9x64).
TRAVEL = (0.30, 0.45)
#: How far a bouncing object goes before it comes back, as a fraction of the axis.
BOUNCE = (0.20, 0.30)
#: A growing object's radius at the start and its growth factor over the clip.
GROW_START = (0.065, 0.075)
GROW_FACTOR = (2.1, 2.4)
#: Random scale around the nominal size of small and large objects.
SIZE_JITTER = (0.92, 1.08)
#: How many times two objects are placed before sampling gives up.
PLACEMENT_TRIES = 1000


class SceneError(SoraError, ValueError):
    """A scene cannot be built or sampled as asked; the message names the attribute at fault."""


@dataclass(frozen=True)
class Keyframe:
    """An object's centre and radius at clip time ``u`` (0 = first frame, 1 = last frame)."""

    u: float
    x: float
    y: float
    radius: float


@dataclass(frozen=True)
class ObjectState:
    """One object in one frame: centre (fractions of width and height), radius, and its rate of change.

    ``vx``, ``vy``, ``vr`` are the change per whole clip along the segment the frame lies on
    (for a frame on a keyframe, the segment that starts there).
    """

    frame: int
    x: float
    y: float
    radius: float
    vx: float
    vy: float
    vr: float

    @property
    def moving(self) -> bool:
        return abs(self.vx) > 1e-9 or abs(self.vy) > 1e-9


@dataclass(frozen=True)
class Event:
    """Something an object starts doing at a frame: ``turns``, ``stops``, ``starts`` (moving), ``enters`` or
    ``leaves`` (the frame, its whole bounding box)."""

    frame: int
    object: int
    kind: str


@dataclass(frozen=True)
class ObjectSpec:
    """One object: its attributes (the words a caption uses) and its path."""

    shape: str
    colour: str
    size: str | None
    motion: str
    keyframes: tuple[Keyframe, ...]

    def __post_init__(self) -> None:
        problems = []
        if self.shape not in SHAPES:
            problems.append(f"shape {self.shape!r} is not one of {', '.join(SHAPES)}")
        if self.colour not in COLOURS:
            problems.append(f"colour {self.colour!r} is not one of {', '.join(COLOURS)}")
        if self.size is not None and self.size not in SIZES:
            problems.append(f"size {self.size!r} is not one of {', '.join(SIZES)}")
        if self.motion not in MOTIONS:
            problems.append(f"motion {self.motion!r} is not one of {', '.join(MOTIONS)}")
        if not self.keyframes or self.keyframes[0].u != 0.0 or self.keyframes[-1].u != 1.0:
            problems.append("keyframes must start at u=0 and end at u=1")
        if problems:
            raise SceneError("invalid object: " + "; ".join(problems), "use the names in sora_synth.vocabulary")

    @property
    def attributes(self) -> ObjectAttributes:
        return ObjectAttributes(colour=self.colour, shape=self.shape, motion=self.motion, size=self.size)

    def track(self, frames: int) -> np.ndarray:
        """``(frames, 3)``: centre x, centre y and radius in each frame, linearly interpolated."""
        u = _frame_times(frames)
        keys = np.array([(k.u, k.x, k.y, k.radius) for k in self.keyframes], dtype=np.float64)
        return np.stack([np.interp(u, keys[:, 0], keys[:, i]) for i in (1, 2, 3)], axis=1)

    def states(self, frames: int) -> list[ObjectState]:
        track = self.track(frames)
        out = []
        for frame, u in enumerate(_frame_times(frames)):
            rate = self._rate(u)
            out.append(ObjectState(frame, *(float(v) for v in track[frame]), *rate))
        return out

    def _rate(self, u: float) -> tuple[float, float, float]:
        keys = self.keyframes
        for a, b in itertools.pairwise(keys):
            if a.u <= u < b.u or (b is keys[-1] and u >= b.u):
                span = b.u - a.u
                return ((b.x - a.x) / span, (b.y - a.y) / span, (b.radius - a.radius) / span)
        return (0.0, 0.0, 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "shape": self.shape,
            "colour": self.colour,
            "size": self.size,
            "motion": self.motion,
            "keyframes": [[k.u, k.x, k.y, k.radius] for k in self.keyframes],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ObjectSpec:
        return cls(
            shape=data["shape"],
            colour=data["colour"],
            size=data.get("size"),
            motion=data["motion"],
            keyframes=tuple(Keyframe(*map(float, k)) for k in data["keyframes"]),
        )


@dataclass(frozen=True)
class Scene:
    """A background colour and one or two objects; ``aspect`` is the width/height it was sampled for."""

    background: str
    objects: tuple[ObjectSpec, ...]
    aspect: float = 1.0

    def __post_init__(self) -> None:
        if self.background not in BACKGROUNDS:
            raise SceneError(
                f"background {self.background!r} is not one of {', '.join(BACKGROUNDS)}",
                "use a name in sora_synth.vocabulary.BACKGROUNDS",
            )
        if not self.objects:
            raise SceneError("a scene needs at least one object")

    @property
    def count(self) -> int:
        return len(self.objects)

    @property
    def attributes(self) -> tuple[ObjectAttributes, ...]:
        return tuple(o.attributes for o in self.objects)

    def states(self, frames: int) -> list[tuple[ObjectState, ...]]:
        """Per frame, every object's state (index ``[frame][object]``)."""
        per_object = [o.states(frames) for o in self.objects]
        return [tuple(states[t] for states in per_object) for t in range(frames)]

    def events(self, frames: int) -> list[Event]:
        """Where an object's path changes course (``turns``, ``stops``, ``starts``, at the keyframe's nearest
        frame) or its box crosses the frame's edge (``enters``, ``leaves``), in frame order."""
        found = []
        times = _frame_times(frames)
        for index, obj in enumerate(self.objects):
            keys = obj.keyframes
            for before, at, after in zip(keys, keys[1:], keys[2:], strict=False):
                v0 = np.array([at.x - before.x, at.y - before.y])
                v1 = np.array([after.x - at.x, after.y - at.y])
                moving0, moving1 = bool(np.any(np.abs(v0) > 1e-9)), bool(np.any(np.abs(v1) > 1e-9))
                kind = None
                if moving0 and moving1 and float(v0 @ v1) < 0.999 * float(np.linalg.norm(v0) * np.linalg.norm(v1)):
                    kind = "turns"
                elif moving0 and not moving1:
                    kind = "stops"
                elif moving1 and not moving0:
                    kind = "starts"
                if kind:
                    frame = int(np.argmin(np.abs(times - at.u)))
                    found.append(Event(frame, index, kind))
            inside = self.inside(obj, frames)
            for frame in range(1, frames):
                if inside[frame] != inside[frame - 1]:
                    found.append(Event(frame, index, "enters" if inside[frame] else "leaves"))
        return sorted(found, key=lambda e: (e.frame, e.object))

    def inside(self, obj: ObjectSpec, frames: int) -> np.ndarray:
        """Per frame, whether ``obj``'s bounding box lies wholly inside the frame."""
        track = obj.track(frames)
        unit_x, unit_y = min(1.0, 1.0 / self.aspect), min(1.0, self.aspect)  # radius -> fraction of width, height
        x, y, r = track[:, 0], track[:, 1], track[:, 2]
        return (x - r * unit_x >= 0) & (x + r * unit_x <= 1) & (y - r * unit_y >= 0) & (y + r * unit_y <= 1)

    def to_dict(self) -> dict[str, Any]:
        return {"background": self.background, "aspect": self.aspect, "objects": [o.to_dict() for o in self.objects]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scene:
        return cls(
            background=data["background"],
            objects=tuple(ObjectSpec.from_dict(o) for o in data["objects"]),
            aspect=float(data.get("aspect", 1.0)),
        )


def _frame_times(frames: int) -> np.ndarray:
    if frames < 1:
        raise SceneError(f"a clip needs at least 1 frame, got {frames}", "pass frames >= 1")
    return np.linspace(0.0, 1.0, frames) if frames > 1 else np.zeros(1)


# --- sampling ---------------------------------------------------------------------------------------------------


def sample_scene(
    rng: np.random.Generator,
    *,
    count: int | None = None,
    objects: Sequence[ObjectAttributes] | None = None,
    background: str | None = None,
    exclude: Iterable[tuple[str, str, str]] = (),
    p_two: float = 0.4,
    aspect: float = 1.0,
) -> Scene:
    """A random scene, deterministic for the state of ``rng``.

    ``objects`` fixes some or all attributes of each object (``None`` fields are drawn);
    otherwise ``count`` objects (1 or 2; drawn with ``P(2) = p_two`` when ``None``). Drawn
    attributes never form a ``(colour, shape, motion)`` triple in ``exclude``, and two objects
    never share both colour and shape. Objects stay inside the frame in every frame and keep
    a gap between their bounding boxes.
    """
    excluded = frozenset(exclude)
    if objects is None:
        if count is None:
            count = 2 if rng.random() < p_two else 1
        objects = [ObjectAttributes()] * count
    if not 1 <= len(objects) <= 2:
        raise SceneError(f"a scene has one or two objects, asked for {len(objects)}", "pass count=1 or count=2")
    if background is not None and background not in BACKGROUNDS:
        raise SceneError(f"background {background!r} is not one of {', '.join(BACKGROUNDS)}")
    chosen: list[ObjectAttributes] = []
    for wanted in objects:
        chosen.append(_draw_attributes(rng, wanted, excluded, chosen))
    background = background or _BACKGROUND_NAMES[int(rng.integers(len(_BACKGROUND_NAMES)))]
    for attempt in range(PLACEMENT_TRIES):
        ease = min(1.0, 2.0 * attempt / PLACEMENT_TRIES)  # later tries travel shorter: crossing paths fit more often
        specs = [_place(a, rng, aspect, ease) for a in chosen]
        if len(specs) == 1 or _apart(specs[0], specs[1], aspect):
            return Scene(background, tuple(specs), aspect)
    raise SceneError(
        f"could not place {' and '.join(a.describe() for a in chosen)} apart in {PLACEMENT_TRIES} tries",
        "use a wider aspect ratio or smaller objects",
    )


_BACKGROUND_NAMES = tuple(BACKGROUNDS)
_COLOUR_NAMES = tuple(COLOURS)


def _draw_attributes(
    rng: np.random.Generator,
    wanted: ObjectAttributes,
    excluded: frozenset[tuple[str, str, str]],
    others: Sequence[ObjectAttributes],
) -> ObjectAttributes:
    for name, allowed in (("colour", COLOURS), ("shape", SHAPES), ("motion", MOTIONS), ("size", SIZES)):
        value = getattr(wanted, name)
        if value is not None and value not in allowed:
            raise SceneError(f"{name} {value!r} is not one of {', '.join(allowed)}", "use sora_synth.vocabulary")
    for _ in range(1000):
        colour = wanted.colour or _COLOUR_NAMES[int(rng.integers(len(_COLOUR_NAMES)))]
        shape = wanted.shape or SHAPES[int(rng.integers(len(SHAPES)))]
        motion = wanted.motion or MOTIONS[int(rng.integers(len(MOTIONS)))]
        size = None if motion == "growing" else (wanted.size or ("small", "large")[int(rng.integers(2))])
        if (colour, shape, motion) in excluded and (wanted.colour, wanted.shape, wanted.motion) != (
            colour,
            shape,
            motion,
        ):
            continue
        if any((o.colour, o.shape) == (colour, shape) for o in others):
            continue
        return ObjectAttributes(colour=colour, shape=shape, motion=motion, size=size)
    raise SceneError(f"no attributes fit {wanted.describe()} next to {[o.describe() for o in others]}")


def _place(attributes: ObjectAttributes, rng: np.random.Generator, aspect: float, ease: float = 0.0) -> ObjectSpec:
    """Draw a path for one object that keeps it inside the frame; ``ease`` in [0, 1] shortens the longest travel."""
    unit = (min(1.0, 1.0 / aspect), min(1.0, aspect))  # min(H, W) as a fraction of the width, of the height
    motion = attributes.motion or "still"
    if motion == "growing":
        r0 = rng.uniform(*GROW_START)
        r1 = r0 * rng.uniform(*GROW_FACTOR)
        x, y = (rng.uniform(r1 * u + MARGIN, 1 - r1 * u - MARGIN) for u in unit)
        keys = (Keyframe(0.0, x, y, r0), Keyframe(1.0, x, y, r1))
    else:
        radius = SIZES[attributes.size or "small"] * rng.uniform(*SIZE_JITTER)
        lo = [radius * u + MARGIN for u in unit]
        hi = [1 - radius * u - MARGIN for u in unit]
        if motion == "still":
            x, y = (rng.uniform(a, b) for a, b in zip(lo, hi, strict=True))
            keys = (Keyframe(0.0, x, y, radius), Keyframe(1.0, x, y, radius))
        else:
            heading = motion if motion in DIRECTIONS else tuple(DIRECTIONS)[int(rng.integers(4))]
            low, high = BOUNCE if motion == "bouncing" else TRAVEL
            distance = rng.uniform(low, high - ease * (high - low))
            step = DIRECTIONS[heading]
            start = []
            for axis in (0, 1):
                if step[axis] > 0:
                    start.append(rng.uniform(lo[axis], hi[axis] - distance))
                elif step[axis] < 0:
                    start.append(rng.uniform(lo[axis] + distance, hi[axis]))
                else:
                    start.append(rng.uniform(lo[axis], hi[axis]))
            end = (start[0] + step[0] * distance, start[1] + step[1] * distance)
            if motion == "bouncing":
                keys = (
                    Keyframe(0.0, start[0], start[1], radius),
                    Keyframe(0.5, end[0], end[1], radius),
                    Keyframe(1.0, start[0], start[1], radius),
                )
            else:
                keys = (Keyframe(0.0, start[0], start[1], radius), Keyframe(1.0, end[0], end[1], radius))
    return ObjectSpec(attributes.shape or "circle", attributes.colour or "white", attributes.size, motion, keys)


def _apart(a: ObjectSpec, b: ObjectSpec, aspect: float, samples: int = 17) -> bool:
    """Whether the bounding boxes of ``a`` and ``b`` keep :data:`GAP` between them at every time."""
    ta, tb = a.track(samples), b.track(samples)
    scale_x, scale_y = max(aspect, 1.0), max(1.0 / aspect, 1.0)  # fractions of the axis -> units of min(H, W)
    reach = ta[:, 2] + tb[:, 2] + GAP
    dx = np.abs(ta[:, 0] - tb[:, 0]) * scale_x
    dy = np.abs(ta[:, 1] - tb[:, 1]) * scale_y
    return bool(np.all((dx >= reach) | (dy >= reach)))


# --- rendering --------------------------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    ys = (np.arange(height, dtype=np.float32) + 0.5).reshape(1, height, 1)
    xs = (np.arange(width, dtype=np.float32) + 0.5).reshape(1, 1, width)
    return ys, xs


_SQRT5 = math.sqrt(5.0)


def _coverage(shape: str, dx: np.ndarray, dy: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Anti-aliased coverage in ``[0, 1]`` from the shape's signed distance (pixels, negative inside)."""
    if shape == "circle":
        distance = np.sqrt(dx * dx + dy * dy) - r
    elif shape == "square":
        distance = np.maximum(np.abs(dx), np.abs(dy)) - r
    else:  # an upward triangle: apex (0, -r), base corners (+-r, r); its box's sides keep the tips sharp
        slant = (2.0 * np.abs(dx) - dy - r) / _SQRT5
        distance = np.maximum(np.maximum(np.abs(dy), np.abs(dx)) - r, slant)
    return np.clip(0.5 - distance, 0.0, 1.0)


def render(scene: Scene, frames: int = 9, height: int = 64, width: int = 64) -> np.ndarray:
    """The clip as ``uint8`` frames ``(frames, height, width, 3)``."""
    if height < 4 or width < 4:
        raise SceneError(f"frames of {height}x{width} are too small to draw on", "use at least 16x16")
    ys, xs = _grid(height, width)
    image = np.empty((frames, height, width, 3), dtype=np.float32)
    image[...] = np.asarray(BACKGROUNDS[scene.background], dtype=np.float32)
    unit = float(min(height, width))
    for obj in scene.objects:
        track = obj.track(frames).astype(np.float32)
        cx = (track[:, 0] * width).reshape(-1, 1, 1)
        cy = (track[:, 1] * height).reshape(-1, 1, 1)
        r = (track[:, 2] * unit).reshape(-1, 1, 1)
        alpha = _coverage(obj.shape, xs - cx, ys - cy, r)[..., None]
        colour = np.asarray(COLOURS[obj.colour], dtype=np.float32)
        image += alpha * (colour - image)
    return (image + 0.5).astype(np.uint8)


def render_tensor(scene: Scene, frames: int = 9, height: int = 64, width: int = 64) -> torch.Tensor:
    """The clip as a float32 tensor ``(3, frames, height, width)`` in ``[-1, 1]`` (the project's video layout).

    Equal to ``sora_core.video_io.to_video(render(...))``; the transpose is done by numpy, because a
    permuted torch copy of this size can cost milliseconds on a busy CPU.
    """
    import torch

    channels_first = np.ascontiguousarray(render(scene, frames, height, width).transpose(3, 0, 1, 2))
    return torch.from_numpy(channels_first.astype(np.float32) / 127.5 - 1.0)
