"""Does a video show what its prompt asks for? Judged from pixels only.

:func:`analyse` finds the objects of a video (:mod:`sora_synth.segment` gives per-frame blobs),
links them over frames into :class:`ObjectTrack`\\ s and names each one's colour (nearest named
colour in CIELAB, allowing for mixing with the background), shape (how much of its bounding box
it fills -- circle ~0.785, square ~1, triangle ~0.5 -- and how far its centre of mass sits
below the box's centre -- a triangle's by a sixth of its height), motion (its centroid's path:
large displacement -> a direction, little -> still, out and back -> bouncing; mass growing ->
growing) and size. :func:`score` parses a prompt, matches its objects to the tracks so that the
most attributes agree, and says per attribute whether the video matches. :func:`evaluate_many`
scores a batch and sums up the agreement per attribute.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from sora_synth.captions import PromptError, PromptSpec, parse_prompt
from sora_synth.segment import Blob, find_blobs, to_rgb_frames
from sora_synth.vocabulary import SIZES, ObjectAttributes

__all__ = [
    "ATTRIBUTES",
    "Agreement",
    "ObjectTrack",
    "Score",
    "analyse",
    "evaluate_many",
    "score",
]

#: The attributes a :class:`Score` judges, in the order of the ``clip-evaluator`` particle's output.
ATTRIBUTES: tuple[str, ...] = ("colour", "shape", "motion", "count")

#: Shape thresholds. ``skew`` is 1 for an upward triangle and 0 for shapes symmetric top to bottom (a blur
#: keeps it); ``extent`` -- area over (longest column x longest row, each the mean of the top three) -- is
#: 0.79-0.81 for a circle (pi/4 when large) and 1 for a square, and stays within 0.8-0.9 and 0.92-1.0 under
#: the degradations of ``sora_synth.degrade``.
TRIANGLE_SKEW_AT_LEAST = 0.25
SQUARE_EXTENT_AT_LEAST = 0.9

#: Area of each shape over the square of its radius (half its bounding box's side).
_AREA_PER_RADIUS_SQUARED = {"circle": math.pi, "square": 4.0, "triangle": 2.0}

#: Motion thresholds, as fractions of min(height, width).
STILL_BELOW = 0.07  # largest excursion of a still object
BOUNCE_RETURN = 0.5  # a bouncing object ends within this fraction of its largest excursion from its start
BOUNCE_AT_LEAST = 0.10  # ... having gone at least this far
GROWTH_AT_LEAST = 1.8  # mass ratio, last frames over first frames, of a growing object
GROWING_DRIFT = 0.12  # ... whose centre moves less than this

#: Linking blobs over frames: farthest a blob may be from a track's predicted position (fraction of min(H, W)).
LINK_DISTANCE = 0.3


@dataclass(frozen=True)
class ObjectTrack:
    """One object followed over the frames where it was seen, and what it was classified as."""

    frames: tuple[int, ...]
    centres: tuple[tuple[float, float], ...]  # pixels (x, y), one per frame in ``frames``
    masses: tuple[float, ...]  # area in pixels (alpha summed), one per frame in ``frames``
    colour: str
    shape: str
    motion: str
    size: str
    rgb: tuple[float, float, float]
    extent: float
    skew: float

    @property
    def attributes(self) -> ObjectAttributes:
        size = None if self.motion == "growing" else self.size
        return ObjectAttributes(colour=self.colour, shape=self.shape, motion=self.motion, size=size)


@dataclass(frozen=True)
class Score:
    """Per attribute, whether the video matches the prompt (``None``: the prompt does not say).

    ``matches`` pairs each prompt object (by position) with the index of the track it was matched
    to, or ``None`` when there were fewer tracks than objects.
    """

    prompt: PromptSpec
    tracks: tuple[ObjectTrack, ...]
    colour: bool | None
    shape: bool | None
    motion: bool | None
    count: bool
    matches: tuple[int | None, ...] = ()

    def as_list(self, not_applicable: float = 1.0) -> list[float]:
        """``[colour, shape, motion, count]`` as 0/1 (``not_applicable`` where the prompt says nothing)."""
        values = (self.colour, self.shape, self.motion, self.count)
        return [not_applicable if v is None else float(v) for v in values]

    @property
    def all(self) -> bool:
        """Every attribute the prompt states agrees."""
        return all(v is not False for v in (self.colour, self.shape, self.motion, self.count))


# --- analysis ----------------------------------------------------------------------------------------------------


def analyse(video: object) -> list[ObjectTrack]:
    """The objects of ``video`` (``(3, T, H, W)`` or ``(1, 3, T, H, W)`` in ``[-1, 1]``, or ``uint8``
    ``(T, H, W, 3)``), largest first. Uses the pixels only."""
    frames = to_rgb_frames(video)
    count, height, width, _ = frames.shape
    blobs, _ = find_blobs(frames)
    unit = float(min(height, width))
    tracks = _link(blobs, unit)
    keep = max(1, math.ceil(count / 2))
    found = [_classify(track, unit, (height, width)) for track in tracks if len(track) >= keep]
    return sorted(found, key=lambda t: -float(np.median(t.masses)))


def _link(blobs: list[list[Blob]], unit: float) -> list[list[Blob]]:
    """Blobs linked frame to frame by predicted position and colour (optimal assignment per frame)."""
    tracks: list[list[Blob]] = []
    for frame_blobs in blobs:
        active = [t for t in tracks if frame_blobs and t[-1].frame >= frame_blobs[0].frame - 2]
        pairs = _assign(active, frame_blobs, unit)
        used = set()
        for track_index, blob_index in pairs:
            active[track_index].append(frame_blobs[blob_index])
            used.add(blob_index)
        tracks += [[b] for i, b in enumerate(frame_blobs) if i not in used]
    return tracks


def _predict(track: list[Blob]) -> tuple[float, float]:
    last = track[-1]
    if len(track) < 2:
        return last.x, last.y
    before = track[-2]
    return last.x + (last.x - before.x), last.y + (last.y - before.y)


def _assign(tracks: list[list[Blob]], blobs: list[Blob], unit: float) -> list[tuple[int, int]]:
    if not tracks or not blobs:
        return []
    cost = np.full((len(tracks), len(blobs)), np.inf)
    for i, track in enumerate(tracks):
        px, py = _predict(track)
        last = track[-1]
        for j, blob in enumerate(blobs):
            distance = min(math.hypot(blob.x - px, blob.y - py), math.hypot(blob.x - last.x, blob.y - last.y)) / unit
            if distance > LINK_DISTANCE:
                continue
            colour = 0.0 if blob.colour == last.colour else 0.2
            size = 0.1 * abs(math.log(max(blob.mass, 1e-3) / max(last.mass, 1e-3)))
            cost[i, j] = distance + colour + size
    # greedy on ascending cost: with the few objects of a clip this is the optimal assignment in practice
    best: list[tuple[int, int]] = []
    taken_tracks: set[int] = set()
    taken_blobs: set[int] = set()
    for flat in np.argsort(cost, axis=None):
        i, j = divmod(int(flat), len(blobs))
        if not np.isfinite(cost[i, j]):
            break
        if i not in taken_tracks and j not in taken_blobs:
            best.append((i, j))
            taken_tracks.add(i)
            taken_blobs.add(j)
    return best


def _classify(track: list[Blob], unit: float, size: tuple[int, int]) -> ObjectTrack:
    masses = np.array([b.mass for b in track])
    centres = np.array([(b.x, b.y) for b in track])
    colour = _vote([b.colour for b in track], masses)
    typical = float(np.median(masses))
    # shape from frames where the object is whole: not cut by the border, not merged with another
    whole = [b for b in track if not b.touches_border and b.mass <= 1.6 * typical] or list(track)
    extent = float(np.median([b.extent for b in whole]))
    skew = float(np.median([b.skew for b in whole]))
    shape = "square" if extent >= SQUARE_EXTENT_AT_LEAST else "circle"
    if skew >= TRIANGLE_SKEW_AT_LEAST:
        shape = "triangle"
    motion = _motion(centres / unit, masses)
    radius = math.sqrt(float(np.median([b.mass for b in whole])) / _AREA_PER_RADIUS_SQUARED[shape]) / unit
    size_name = "small" if radius < (SIZES["small"] + SIZES["large"]) / 2 else "large"
    rgb = tuple(float(v) for v in np.median([b.rgb for b in track], axis=0))
    return ObjectTrack(
        frames=tuple(b.frame for b in track),
        centres=tuple((float(x), float(y)) for x, y in centres),
        masses=tuple(float(m) for m in masses),
        colour=colour,
        shape=shape,
        motion=motion,
        size=size_name,
        rgb=(rgb[0], rgb[1], rgb[2]),
        extent=extent,
        skew=skew,
    )


def _vote(names: Sequence[str], weights: np.ndarray) -> str:
    tally: Counter[str] = Counter()
    for name, weight in zip(names, weights, strict=True):
        tally[name] += float(weight)
    return tally.most_common(1)[0][0]


def _motion(centres: np.ndarray, masses: np.ndarray) -> str:
    """Name a path (centres in units of min(H, W), one row per frame) and its masses."""
    if len(centres) < 2:
        return "still"
    k = max(1, min(2, len(masses) // 4))
    growth = float(np.median(masses[-k:]) / max(np.median(masses[:k]), 1e-6))
    displacement = centres[-1] - centres[0]
    excursion = np.abs(centres - centres[0]).max(axis=0)
    if growth >= GROWTH_AT_LEAST and float(np.hypot(*displacement)) < GROWING_DRIFT:
        return "growing"
    axis = int(np.argmax(excursion))
    if excursion[axis] < STILL_BELOW:
        return "still"
    if excursion[axis] >= BOUNCE_AT_LEAST and abs(displacement[axis]) < BOUNCE_RETURN * excursion[axis]:
        return "bouncing"
    axis = int(np.argmax(np.abs(displacement)))
    if axis == 0:
        return "right" if displacement[0] > 0 else "left"
    return "down" if displacement[1] > 0 else "up"


# --- scoring ----------------------------------------------------------------------------------------------------------


def score(video: object, prompt: str | PromptSpec, tracks: Sequence[ObjectTrack] | None = None) -> Score:
    """Whether ``video`` matches ``prompt``, per attribute.

    The prompt's objects are matched to the video's tracks (each track at most once) so that the
    most stated attributes agree; an attribute is right when it agrees for every prompt object
    that states it. ``count`` is right when there are as many tracks as prompt objects. Pass
    ``tracks`` (from :func:`analyse`) to skip the analysis. Raises
    :class:`~sora_synth.captions.PromptError` for a prompt with no recognisable attribute.
    """
    spec = prompt if isinstance(prompt, PromptSpec) else parse_prompt(prompt)
    found = tuple(analyse(video) if tracks is None else tracks)
    wanted = spec.objects
    best: tuple[int | None, ...] = tuple([None] * len(wanted))
    best_agree = -1
    options: list[int | None] = list(range(len(found)))
    slots = options + [None] * max(0, len(wanted) - len(found))
    for chosen in dict.fromkeys(itertools.permutations(slots, len(wanted))):  # unique, in a fixed order
        agree = sum(_agreements(w, found[t]) for w, t in zip(wanted, chosen, strict=True) if t is not None)
        if agree > best_agree:
            best, best_agree = chosen, agree
    verdicts: dict[str, bool | None] = {}
    for name in ("colour", "shape", "motion"):
        stated = [(w, t) for w, t in zip(wanted, best, strict=True) if getattr(w, name) is not None]
        verdicts[name] = (
            None
            if not stated
            else all(t is not None and getattr(found[t].attributes, name) == getattr(w, name) for w, t in stated)
        )
    return Score(
        prompt=spec,
        tracks=found,
        colour=verdicts["colour"],
        shape=verdicts["shape"],
        motion=verdicts["motion"],
        count=len(found) == len(wanted),
        matches=best,
    )


def _agreements(wanted: ObjectAttributes, track: ObjectTrack) -> int:
    got = track.attributes
    return sum(
        getattr(wanted, name) is not None and getattr(wanted, name) == getattr(got, name)
        for name in ("colour", "shape", "motion")
    )


@dataclass
class Agreement:
    """How often each attribute agreed over many scored clips (attributes a prompt does not state are skipped)."""

    right: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ATTRIBUTES, 0))
    judged: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ATTRIBUTES, 0))
    clips: int = 0
    all_right: int = 0
    scores: list[Score] = field(default_factory=list)

    def add(self, result: Score) -> None:
        self.clips += 1
        self.all_right += int(result.all)
        for name in ATTRIBUTES:
            value = getattr(result, name)
            if value is not None:
                self.judged[name] += 1
                self.right[name] += int(value)
        self.scores.append(result)

    def rate(self, name: str) -> float:
        """The fraction of clips whose ``name`` agreed (``all`` for every attribute at once)."""
        if name == "all":
            return self.all_right / self.clips if self.clips else float("nan")
        return self.right[name] / self.judged[name] if self.judged[name] else float("nan")

    def rates(self) -> dict[str, float]:
        return {name: self.rate(name) for name in (*ATTRIBUTES, "all")}

    def failures(self) -> list[Score]:
        return [s for s in self.scores if not s.all]

    def format(self, label: str = "") -> str:
        cells = "  ".join(f"{name} {100 * rate:6.2f}%" for name, rate in self.rates().items())
        return f"{label:<40} {cells}  ({self.clips} clips)"


def evaluate_many(videos: Iterable[object], prompts: Iterable[str | PromptSpec]) -> Agreement:
    """Score each video against its prompt; the per-attribute agreement and every :class:`Score`.

    ``videos`` may be a batch tensor ``(B, 3, T, H, W)`` or any iterable of videos.
    """
    videos, prompts = list(videos), list(prompts)
    if len(videos) != len(prompts):
        raise PromptError(
            f"evaluate_many got {len(videos)} videos but {len(prompts)} prompts", "pass one prompt per video"
        )
    agreement = Agreement()
    for video, prompt in zip(videos, prompts, strict=True):
        agreement.add(score(video, prompt))
    return agreement
