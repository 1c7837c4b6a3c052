"""The attributes of the synthetic domain: shapes, colours (with RGB values), sizes, motions, backgrounds.

No torch and no randomness here: every other module reads these tables, so a colour, a shape or a
motion is added in one place. Colour values are far apart in CIELAB and from every background, so
they stay distinguishable after the VAE's smoothing and mixing with the background at edges.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = [
    "BACKGROUNDS",
    "COLOURS",
    "DIRECTIONS",
    "MOTIONS",
    "SHAPES",
    "SIZES",
    "ObjectAttributes",
]

#: Shapes, all drawn inside a square bounding box (a triangle points up).
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")

#: Object colours, sRGB 0..255.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 190, 60),
    "blue": (50, 90, 235),
    "yellow": (240, 220, 40),
    "purple": (165, 60, 215),
    "cyan": (40, 215, 225),
    "orange": (250, 140, 20),
    "white": (240, 240, 240),
}

#: Background colours: dark, so every object colour stands out; none equals an object colour.
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "black": (8, 8, 8),
    "grey": (72, 72, 72),
    "navy": (18, 24, 72),
    "brown": (72, 46, 24),
}

#: Half the side of an object's bounding box, as a fraction of min(height, width).
SIZES: dict[str, float] = {"small": 0.085, "large": 0.14}

#: Directions of travel as (dx, dy) in image coordinates (y grows downwards).
DIRECTIONS: dict[str, tuple[int, int]] = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}

#: Motions: the four directions, staying still, bouncing (out and back along one axis) and growing in place.
MOTIONS: tuple[str, ...] = ("left", "right", "up", "down", "still", "bouncing", "growing")


@dataclass(frozen=True)
class ObjectAttributes:
    """What a caption says about one object; ``None`` where it says nothing (or, in a prompt, where unknown).

    ``size`` is ``None`` for a growing object: its size changes over the clip.
    """

    colour: str | None = None
    shape: str | None = None
    motion: str | None = None
    size: str | None = None

    def triple(self) -> tuple[str | None, str | None, str | None]:
        """``(colour, shape, motion)``, the combination the held-out split is defined on."""
        return (self.colour, self.shape, self.motion)

    def merged(self, other: ObjectAttributes) -> ObjectAttributes:
        """These attributes, with ``other``'s filling the ones that are ``None``."""
        return replace(
            self,
            colour=self.colour or other.colour,
            shape=self.shape or other.shape,
            motion=self.motion or other.motion,
            size=self.size or other.size,
        )

    def describe(self) -> str:
        words = [w for w in (self.size, self.colour, self.shape or "object") if w]
        return " ".join(words) + (f" ({self.motion})" if self.motion else "")
