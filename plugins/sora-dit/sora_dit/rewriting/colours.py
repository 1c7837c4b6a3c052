"""Colour words to the generator's colours, through colour-name data that matplotlib ships.

Two public data sets of colour names with their sRGB values: the XKCD colour survey (949 names that
people gave to colours, ``matplotlib.colors.XKCD_COLORS``) and the CSS colour names
(``matplotlib.colors.CSS4_COLORS``). A word is a colour when it names one (the survey first, as it records
how people speak), or when it is a word of several multi-word survey names ("kelly" in "kelly green"),
whose colours are averaged when they agree. Its colour goes to the nearest of the generator's colours by a perceptual
distance in CIELAB (CIE94-style weights on lightness, chroma and hue). Nothing here lists words for the
generator's colours: only the data sets' names and values.

A third, larger list is for words in an adjective's place only (:func:`named_colour`): the single-word names of
the community-kept color-name-list (about 5,500 of its 32,000 names: "vermilion", "alabaster", "verdant"). Its
names are looser ("still" and "backdrop" are colours there), so the reader asks it only about a word before a
noun that nothing else placed.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources

__all__ = ["ColourMatch", "colour_of", "lab", "named_colour", "nearest_colour"]

RGB = tuple[float, float, float]
#: Below this chroma (CIELAB C*) a colour reads as white, grey or black; above it only as a hue.
ACHROMATIC_CHROMA = 22.0
#: A word found only inside survey names is a colour when those names' colours lie within this distance of
#: their mean ("kelly" in "kelly green"); "dark" or "pale", which go with every hue, are not.
CONSISTENT = 20.0


class ColourMatch:
    """A word's colour: ``rgb`` in [0, 1] and ``source`` (which data set, and how the word was found)."""

    __slots__ = ("rgb", "source")

    def __init__(self, rgb: RGB, source: str) -> None:
        self.rgb = rgb
        self.source = source


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, RGB], dict[str, RGB], dict[str, list[RGB]]]:
    from matplotlib import colors  # imported on first use: a second's import, only for prompts

    survey = {name.split(":", 1)[1]: colors.to_rgb(value) for name, value in colors.XKCD_COLORS.items()}
    css = {name: colors.to_rgb(value) for name, value in colors.CSS4_COLORS.items()}
    parts: dict[str, list[RGB]] = defaultdict(list)
    for name, value in survey.items():
        words = name.replace("/", " ").replace("'", "").split()
        if len(words) > 1:
            for word in set(words):
                parts[word].append(value)
    return survey, css, dict(parts)


def colour_of(words: Iterable[str]) -> ColourMatch | None:
    """The colour that ``words`` (one word, or a phrase such as ``("sky", "blue")``) name, or ``None``."""
    words = tuple(words)
    name = " ".join(words)
    survey, css, parts = _tables()
    if name in survey:
        return ColourMatch(survey[name], f"XKCD colour survey: {name!r}")
    if name.replace(" ", "") in css:
        return ColourMatch(css[name.replace(" ", "")], f"CSS colour names: {name.replace(' ', '')!r}")
    found = parts.get(name, []) if len(words) == 1 else []
    if found:
        mean = (sum(c[0] for c in found) / len(found), sum(c[1] for c in found) / len(found),
                sum(c[2] for c in found) / len(found))  # fmt: skip
        centre = lab(mean)
        if max(_distance(lab(c), centre) for c in found) <= CONSISTENT:
            return ColourMatch(mean, f"XKCD colour survey: {len(found)} name(s) with {name!r}")
    return None


@lru_cache(maxsize=1)
def _name_list() -> dict[str, RGB]:
    from matplotlib import colors

    text = resources.files("sora_dit").joinpath("vocabularies/color-name-list.csv").read_text(encoding="utf-8")
    names: dict[str, RGB] = {}
    for row in csv.DictReader(text.splitlines()):
        names.setdefault(row["name"], colors.to_rgb(row["hex"]))
    return names


def named_colour(word: str) -> ColourMatch | None:
    """``word``'s colour in color-name-list's single-word names (for adjective places only), or ``None``."""
    rgb = _name_list().get(word)
    return None if rgb is None else ColourMatch(rgb, f"color-name-list: {word!r}")


def lab(rgb: RGB) -> tuple[float, float, float]:
    """sRGB in [0, 1] to CIELAB (D65)."""
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    x = (0.4124 * linear[0] + 0.3576 * linear[1] + 0.1805 * linear[2]) / 0.95047
    y = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    z = (0.0193 * linear[0] + 0.1192 * linear[1] + 0.9505 * linear[2]) / 1.08883

    def f(t: float) -> float:
        return math.copysign(abs(t) ** (1 / 3), t) if t > 0.008856 else 7.787 * t + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def _distance(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    chroma_a, chroma_b = math.hypot(a[1], a[2]), math.hypot(b[1], b[2])
    d_chroma = chroma_a - chroma_b
    d_hue_squared = max((a[1] - b[1]) ** 2 + (a[2] - b[2]) ** 2 - d_chroma**2, 0.0)
    mean_chroma = (chroma_a + chroma_b) / 2
    return math.sqrt(
        ((a[0] - b[0]) / (1 + 0.015 * (a[0] + b[0]) / 2)) ** 2
        + (d_chroma / (1 + 0.045 * mean_chroma)) ** 2
        + d_hue_squared / (1 + 0.015 * mean_chroma) ** 2
    )


def nearest_colour(rgb: RGB, targets: Iterable[str]) -> tuple[str, float] | None:
    """The target colour name nearest to ``rgb`` and its distance (``None`` if no target is a known colour).

    A colour with a clear hue (chroma above :data:`ACHROMATIC_CHROMA`) never goes to an achromatic target
    (white, grey, black) while a chromatic one is offered: a pale blue is blue, not white."""
    survey, css, _ = _tables()
    point = lab(rgb)
    scored = []
    for name in targets:
        value = survey.get(name) or css.get(name)
        if value is not None:
            target = lab(value)
            scored.append((_distance(point, target), math.hypot(target[1], target[2]) < ACHROMATIC_CHROMA, name))
    if math.hypot(point[1], point[2]) > ACHROMATIC_CHROMA and any(not grey for _, grey, _ in scored):
        scored = [entry for entry in scored if not entry[1]]
    if not scored:
        return None
    distance, _, name = min(scored)
    return name, distance
