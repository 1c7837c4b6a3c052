"""``keyframe-summarizer``: the key frames of a clip -- where an object enters, leaves, starts, stops or turns --
and a one-line summary.

It reuses the ``captioner`` component (a ``latent-captioner``) to find the objects of every frame: each frame
is encoded on its own (a one-frame clip, which the causal VAE encoder takes) and described, so positions are
known frame by frame, not at the latent's coarser time steps. Detections are linked into tracks (nearest
position, same colour and shape first), and a track's events come from its path: it *enters* on the first
frame its whole box is inside after frames it was not (or was not seen), *leaves* the other way round; it
*stops* or *starts* where its speed falls below or rises above ``speed`` (a fraction of the frame per frame)
and stays there, and *turns* where its direction changes by more than ``turn_degrees``. The key frames are
those events' frames; the summary says what happened in order ("the red circle enters, then stops; the blue
square turns").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from pydantic import Field
from torch import Tensor

from sora_core.config import ParticleConfig
from sora_core.errors import PortError
from sora_core.interfaces import Summarizer
from sora_core.particle import Particle
from sora_core.ports import PortSpec


class KeyframeSummarizerConfig(ParticleConfig):
    """How fast is moving, how sharp is a turn, and how far an object may jump between frames."""

    speed: float = Field(0.012, gt=0, description="speed (fraction of the frame per frame) above which an object moves")
    turn_degrees: float = Field(50.0, gt=0, lt=180, description="change of direction that counts as a turn")
    link_distance: float = Field(0.2, gt=0, description="farthest an object moves between frames (fraction)")
    max_frames: int = Field(8, gt=0, description="most key frames reported per clip")
    radii: dict[str, float] = Field(
        {"small": 0.085, "large": 0.14},
        description="half the side of an object's box by the captioner's size word, as a fraction of the frame's "
        "shorter side (whether its whole box is inside the frame)",
    )


@dataclass(frozen=True)
class Event:
    """An object (``colour shape``) doing ``kind`` (enters, leaves, starts, stops, turns) at ``frame``."""

    frame: int
    subject: str
    kind: str


class KeyframeSummarizer(Summarizer):
    """``video`` ``(B, 3, T, H, W)`` -> ``frames`` ``(B, K)`` key frame indices (-1 pads), ``images``
    ``(B, K, 3, H, W)`` those frames (zeros pad) and ``summary`` (B texts), through the ``captioner``."""

    Config = KeyframeSummarizerConfig
    config: KeyframeSummarizerConfig
    description = "video -> key frames of each event (enters, leaves, starts, stops, turns) + a one-line summary"

    @classmethod
    def component_kinds(cls) -> dict[str, str]:
        return {"captioner": "captioner"}

    def component_problems(self, components: Mapping[str, Particle]) -> list[str]:
        captioner = components.get("captioner")
        if captioner is not None and not callable(getattr(captioner, "describe", None)):
            return [f"component 'captioner' ({captioner._label()}) has no describe(video): bind a latent-captioner"]
        return []

    def input_ports(self) -> dict[str, PortSpec]:
        return {"video": PortSpec("float32", "B C=3 T H W", description="RGB clips in [-1, 1]")}

    def output_ports(self) -> dict[str, PortSpec]:
        return {
            "frames": PortSpec("int64", "B K", description="key frame indices, earliest first; -1 pads"),
            "images": PortSpec("float32", "B K C=3 H W", description="the key frames; zeros pad"),
            "summary": PortSpec("str", "B", description="one line per clip: what happened, in order"),
        }

    @classmethod
    def example_components(cls, config: KeyframeSummarizerConfig | dict[str, Any] | None) -> dict[str, Particle]:
        from sora_core import registry

        captioner = registry.create("sora-understand:latent-captioner")
        captioner.bind_components({"encoder": registry.create("sora-vae:causal-vae-encoder")})
        return {"captioner": captioner}

    @classmethod
    def example_inputs(cls, config: KeyframeSummarizerConfig, batch: int, generator: torch.Generator) -> dict[str, Any]:
        return {"video": torch.rand((batch, 3, 5, 64, 64), generator=generator) * 2 - 1}

    def forward(self, video: Tensor) -> dict[str, Any]:
        if video.dim() != 5 or video.shape[1] != 3 or video.shape[2] < 2:
            raise PortError(
                f"{self._label()}: input 'video' has shape {tuple(video.shape)}; expected (B, 3, T, H, W) with T >= 2",
                "pass RGB clips of at least two frames in [-1, 1]",
            )
        batch, _, _, height, width = video.shape
        found = [self.events(clip) for clip in video]
        keys = [sorted({e.frame for e in events})[: self.config.max_frames] for events in found]
        most = max((len(k) for k in keys), default=0)
        indices = torch.full((batch, most), -1, dtype=torch.int64)
        images = torch.zeros(batch, most, 3, height, width, dtype=video.dtype)
        for b, chosen in enumerate(keys):
            for k, frame in enumerate(chosen):
                indices[b, k] = frame
                images[b, k] = video[b, :, frame]
        return {"frames": indices, "images": images, "summary": [self.summarise(events) for events in found]}

    # --- events -----------------------------------------------------------------------------------------------

    def events(self, clip: Tensor) -> list[Event]:
        """The events of one clip ``(3, T, H, W)``, in frame order."""
        frames = clip.shape[1]
        stills = clip.permute(1, 0, 2, 3)[:, :, None]  # (T, 3, 1, H, W): every frame a clip of its own
        per_frame = self.component("captioner").describe(stills)  # type: ignore[attr-defined]
        aspect = clip.shape[-1] / clip.shape[-2]
        events: list[Event] = []
        for track in self._tracks([d.objects for d in per_frame]):
            events += self._track_events(track, frames, aspect)
        return sorted(events, key=lambda e: (e.frame, e.subject))

    def _tracks(self, per_frame: list[tuple[Any, ...]]) -> list[list[Any]]:
        """Detections linked across frames: ``track[t]`` is the object in frame t, or None."""
        tracks: list[list[Any]] = []
        for t, objects in enumerate(per_frame):
            free = list(objects)
            for track in tracks:
                last = next((o for o in reversed(track) if o is not None), None)
                if last is None or not free:
                    track.append(None)
                    continue
                best = min(free, key=lambda o: _distance(o, last) + (0 if _same(o, last) else 1.0))
                if _distance(best, last) <= self.config.link_distance * max(1, t - _last_seen(track)):
                    track.append(best)
                    free.remove(best)
                else:
                    track.append(None)
            tracks += [[None] * t + [o] for o in free]
        return tracks

    def _track_events(self, track: list[Any], frames: int, aspect: float) -> list[Event]:
        seen = [o for o in track if o is not None]
        subject = f"{_vote([o.colour for o in seen])} {_vote([o.shape for o in seen])}"
        events = []
        inside = [o is not None and _inside(o, aspect, self.config.radii) for o in track]
        for t in range(1, frames):
            if inside[t] != inside[t - 1] and any(inside[t:]) and (inside[t] or any(inside[:t])):
                events.append(Event(t, subject, "enters" if inside[t] else "leaves"))
        candidates: list[tuple[int, str]] = []
        for t in range(1, frames - 1):
            before, after = _velocity(track, t - 2, t), _velocity(track, t, t + 2)
            if before is None or after is None:
                continue
            moving_before = math.hypot(*before) > self.config.speed
            moving_after = math.hypot(*after) > self.config.speed
            if moving_before and not moving_after:
                candidates.append((t, "stops"))
            elif moving_after and not moving_before:
                candidates.append((t, "starts"))
            elif moving_before and moving_after and _angle(before, after) > self.config.turn_degrees:
                candidates.append((t, "turns"))
        for run in _runs(candidates):  # a change seen over two-frame windows shows on neighbouring frames too
            frame = max((t for t, _ in run), key=lambda t: _change(track, t))  # where the one-frame step changes most
            events.append(Event(frame, subject, run[0][1]))
        return events

    def summarise(self, events: list[Event]) -> str:
        """One line: each object's events in order ("the red circle enters, then stops; ...")."""
        if not events:
            return "nothing enters, leaves, starts, stops or turns"
        by_subject: dict[str, list[str]] = {}
        for event in events:
            by_subject.setdefault(event.subject, []).append(f"{event.kind} (frame {event.frame})")
        return "; ".join(f"the {subject} " + ", then ".join(kinds) for subject, kinds in by_subject.items())


def _velocity(track: list[Any], start: int, end: int) -> tuple[float, float] | None:
    """Mean velocity per frame between frames ``start`` and ``end`` (clipped to the track), or None when the
    object is missing at either end."""
    start, end = max(start, 0), min(end, len(track) - 1)
    a, b = track[start], track[end]
    if a is None or b is None or end <= start:
        return None
    return ((b.x - a.x) / (end - start), (b.y - a.y) / (end - start))


def _change(track: list[Any], t: int) -> float:
    """How much the one-frame step changes at frame ``t`` (length of the difference of the steps into and out
    of it); 0 when the object is missing around it."""
    before, after = _velocity(track, t - 1, t), _velocity(track, t, t + 1)
    if before is None or after is None:
        return 0.0
    return math.hypot(after[0] - before[0], after[1] - before[1])


def _runs(candidates: list[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    """Candidates grouped into runs of the same kind on consecutive frames."""
    runs: list[list[tuple[int, str]]] = []
    for frame, kind in candidates:
        if runs and runs[-1][-1][1] == kind and runs[-1][-1][0] == frame - 1:
            runs[-1].append((frame, kind))
        else:
            runs.append([(frame, kind)])
    return runs


def _distance(a: Any, b: Any) -> float:
    return math.hypot(a.x - b.x, a.y - b.y)


def _same(a: Any, b: Any) -> bool:
    return a.colour == b.colour and a.shape == b.shape


def _last_seen(track: list[Any]) -> int:
    return max(i for i, o in enumerate(track) if o is not None)


def _inside(obj: Any, aspect: float, radii: dict[str, float]) -> bool:
    radius = radii.get(obj.size, min(radii.values(), default=0.1))
    rx, ry = radius * min(1.0, 1.0 / aspect), radius * min(1.0, aspect)
    margin = 0.02  # a detected centre is a little noisy; an object touching the edge is inside
    return rx - margin <= obj.x <= 1 - rx + margin and ry - margin <= obj.y <= 1 - ry + margin


def _angle(a: tuple[float, float] | None, b: tuple[float, float] | None) -> float:
    if a is None or b is None:
        return 0.0
    cosine = (a[0] * b[0] + a[1] * b[1]) / max(1e-9, math.hypot(*a) * math.hypot(*b))
    return math.degrees(math.acos(max(-1.0, min(1.0, cosine))))


def _vote(words: list[str]) -> str:
    return max(set(words), key=words.count) if words else "object"
