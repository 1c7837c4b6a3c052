"""Training-only synonyms: captions that say the same thing in other words, so the denoiser learns meaning.

sora-synth's training captions use one colour word per colour and a few words per shape and motion, so a
denoiser reading MiniLM's token features learns those tokens, not what they mean, and a prompt in other
words ("a crimson disc gliding rightwards") gives an empty clip. ``augment`` swaps attribute words of a
caption for synonyms from :data:`SYNONYMS`, a table of its own: none of its words is one of sora-synth's
evaluation-only paraphrase words (``sora_synth.lexicon.PARAPHRASE_*``; a test checks), so the paraphrase
benchmark still measures words never seen in training.
"""

from __future__ import annotations

import re

import numpy as np
from sora_synth.lexicon import TRAIN_COLOURS, TRAIN_MOTIONS, TRAIN_SHAPES, TRAIN_SIZES

__all__ = ["SYNONYMS", "SYNONYM_STREAM", "augment"]

#: Last entropy word of the synonym draws of a training step (``[TRAIN, seed, step, SYNONYM_STREAM]``), a
#: stream of their own, so that a run without synonyms draws exactly what it drew before they existed.
SYNONYM_STREAM = 7

_COLOURS: dict[str, tuple[str, ...]] = {
    "red": ("cherry", "vermilion", "cardinal", "cranberry", "carmine", "tomato", "strawberry", "garnet", "cerise"),
    "green": ("olive", "mint", "leafy", "grassy", "forest", "pine", "moss", "sage", "shamrock", "fern"),
    "blue": ("cerulean", "ultramarine", "denim", "royal", "cornflower", "periwinkle", "ocean", "blueberry", "lapis"),
    "yellow": ("canary", "mustard", "sunflower", "butter", "banana", "daffodil", "buttercup", "sunny", "maize"),
    "purple": ("lavender", "lilac", "mauve", "grape", "orchid", "eggplant", "aubergine", "mulberry", "wisteria"),
    "cyan": ("seafoam", "glacier", "lagoon", "peacock", "ice", "pool", "caribbean", "frost", "arctic"),
    "orange": ("apricot", "pumpkin", "peach", "carrot", "mango", "rust", "copper", "marigold", "papaya"),
    "white": ("pearl", "chalk", "cream", "bone", "alabaster", "porcelain", "linen", "cotton", "paper"),
}
_SHAPES: dict[str, tuple[str, ...]] = {
    "circle": ("ring", "bead", "marble", "coin", "button", "wheel", "pebble", "hoop", "bubble"),
    "square": ("tile", "brick", "slab", "panel", "tablet", "pane"),
    "triangle": ("cone", "spike", "peak", "tent", "fin", "delta", "thorn"),
}
_SIZES: dict[str, tuple[str, ...]] = {
    "small": ("mini", "compact", "dinky"),
    "large": ("colossal", "hefty", "oversized"),
}
#: Per motion: alternatives of its ``-ing`` phrases, of its verb phrases, and of its adjectives.
_MOTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "right": (
        ("shifting right", "going right", "passing to the right", "creeping right", "rolling right"),
        ("shifts right", "goes right", "creeps right", "rolls right"),
        (),
    ),
    "left": (
        ("shifting left", "going left", "passing to the left", "creeping left", "rolling left"),
        ("shifts left", "goes left", "creeps left", "rolls left"),
        (),
    ),
    "up": (
        ("lifting", "going higher", "elevating", "mounting"),
        ("lifts", "goes higher", "elevates", "mounts"),
        ("lifting", "elevating", "mounting"),
    ),
    "down": (
        ("lowering", "going lower", "tumbling", "dipping"),
        ("lowers", "goes lower", "tumbles", "dips"),
        ("tumbling", "lowering", "dipping"),
    ),
    "still": (("keeping still", "frozen in place", "staying put"), ("keeps still", "never moves", "stays put"), ()),
    "bouncing": (("hopping", "springing", "leaping"), ("hops", "springs", "leaps"), ("hopping", "springing")),
    "growing": (
        ("widening", "ballooning", "getting larger", "getting wider"),
        ("widens", "balloons", "gets larger", "gets wider"),
        ("widening",),
    ),
}


def _table() -> dict[str, tuple[str, ...]]:
    table: dict[str, tuple[str, ...]] = {}
    for words, alternatives in ((TRAIN_COLOURS, _COLOURS), (TRAIN_SHAPES, _SHAPES), (TRAIN_SIZES, _SIZES)):
        for attribute, spoken in words.items():
            table.update(dict.fromkeys(spoken, alternatives[attribute]))
    for motion, spoken in TRAIN_MOTIONS.items():
        ing, verb, adjective = _MOTIONS[motion]
        table.update(dict.fromkeys(spoken.ing, ing))
        table.update(dict.fromkeys(spoken.verb, verb))
        table.update(dict.fromkeys(spoken.adjective, adjective or ing))
    return table


#: Each training word or phrase (as sora-synth's captions spell it) -> its training-only synonyms.
SYNONYMS: dict[str, tuple[str, ...]] = _table()
_PATTERN = re.compile(
    r"\b(" + "|".join(re.escape(k) for k in sorted(SYNONYMS, key=len, reverse=True)) + r")\b", re.IGNORECASE
)


def augment(text: str, rng: np.random.Generator, rate: float) -> str:
    """``text`` with each attribute word or phrase swapped, with probability ``rate``, for a synonym."""
    if rate <= 0:
        return text

    def swap(match: re.Match[str]) -> str:
        if rng.random() >= rate:
            return match.group(0)
        options = SYNONYMS[match.group(0).lower()]
        return str(options[rng.integers(len(options))])

    return _ARTICLE.sub(_article, _PATTERN.sub(swap, text))


_ARTICLE = re.compile(r"\b(an?) (\w)", re.IGNORECASE)


def _article(match: re.Match[str]) -> str:
    """ "a" or "an", whichever the next word's first letter wants (the swap may have changed that word)."""
    article, letter = match.group(1), match.group(2)
    wanted = "an" if letter.lower() in "aeiou" else "a"
    return (wanted.capitalize() if article[0].isupper() else wanted) + " " + letter
