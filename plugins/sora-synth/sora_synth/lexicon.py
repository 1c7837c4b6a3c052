"""The words: what training captions use, and a separate table of evaluation-only paraphrases.

``TRAIN_*`` tables hold every attribute word a training caption can contain (the caption
templates draw from them). ``PARAPHRASE_*`` tables map words that training **never** uses
("crimson", "disc", "gliding rightwards") to the same attributes; the parser reads both, the
held-out paraphrase prompts use only the second, and a test proves no training caption
contains a paraphrase word.
"""

from __future__ import annotations

__all__ = [
    "BACKGROUND_NOUNS",
    "BREAKERS",
    "DETERMINERS",
    "GENERIC_NOUNS",
    "NUMBER_WORDS",
    "PARAPHRASE_BACKGROUNDS",
    "PARAPHRASE_COLOURS",
    "PARAPHRASE_MOTIONS",
    "PARAPHRASE_MOTION_PHRASES",
    "PARAPHRASE_SHAPES",
    "PARAPHRASE_SIZES",
    "PARAPHRASE_VERBS",
    "TRAIN_BACKGROUNDS",
    "TRAIN_COLOURS",
    "TRAIN_MOTIONS",
    "TRAIN_SHAPES",
    "TRAIN_SIZES",
    "MotionWords",
]

from dataclasses import dataclass

# --- training vocabulary ---------------------------------------------------------------------------------------

#: Colour words of training captions, by colour.
TRAIN_COLOURS: dict[str, tuple[str, ...]] = {
    "red": ("red",),
    "green": ("green",),
    "blue": ("blue",),
    "yellow": ("yellow",),
    "purple": ("purple",),
    "cyan": ("cyan",),
    "orange": ("orange",),
    "white": ("white",),
}

#: Nouns of training captions, by shape.
TRAIN_SHAPES: dict[str, tuple[str, ...]] = {
    "circle": ("circle", "ball", "dot"),
    "square": ("square", "block"),
    "triangle": ("triangle",),
}

#: Size adjectives of training captions.
TRAIN_SIZES: dict[str, tuple[str, ...]] = {"small": ("small", "little", "tiny"), "large": ("large", "big")}

#: Background colour words (objects never have these colours).
TRAIN_BACKGROUNDS: dict[str, tuple[str, ...]] = {
    "black": ("black",),
    "grey": ("grey", "gray"),
    "navy": ("navy",),
    "brown": ("brown",),
}


@dataclass(frozen=True)
class MotionWords:
    """How a motion is said: after a noun (``-ing``), as a verb (third person) and before a noun."""

    ing: tuple[str, ...]
    verb: tuple[str, ...]
    adjective: tuple[str, ...] = ()


#: Motion phrases of training captions.
TRAIN_MOTIONS: dict[str, MotionWords] = {
    "right": MotionWords(
        ("moving right", "moving to the right", "sliding to the right", "heading right", "travelling right"),
        ("moves right", "moves to the right", "slides to the right", "heads right", "travels right"),
    ),
    "left": MotionWords(
        ("moving left", "moving to the left", "sliding to the left", "heading left", "travelling left"),
        ("moves left", "moves to the left", "slides to the left", "heads left", "travels left"),
    ),
    "up": MotionWords(
        ("moving up", "rising", "going up", "floating upward"),
        ("moves up", "rises", "goes up", "floats upward"),
        ("rising",),
    ),
    "down": MotionWords(
        ("moving down", "falling", "going down", "dropping"),
        ("moves down", "falls", "goes down", "drops"),
        ("falling",),
    ),
    "still": MotionWords(
        ("staying still", "not moving", "sitting still", "standing still"),
        ("stays still", "does not move", "sits still", "stays in place"),
    ),
    "bouncing": MotionWords(
        ("bouncing", "bouncing back and forth"),
        ("bounces", "bounces back and forth"),
        ("bouncing",),
    ),
    "growing": MotionWords(
        ("growing", "getting bigger", "growing larger"),
        ("grows", "gets bigger", "grows larger"),
        ("growing",),
    ),
}

# --- evaluation-only paraphrases (never in a training caption) --------------------------------------------------

PARAPHRASE_COLOURS: dict[str, tuple[str, ...]] = {
    "red": ("crimson", "scarlet", "ruby"),
    "green": ("emerald", "lime", "jade"),
    "blue": ("azure", "cobalt", "sapphire"),
    "yellow": ("golden", "lemon"),
    "purple": ("violet", "amethyst", "plum"),
    "cyan": ("teal", "turquoise", "aqua"),
    "orange": ("tangerine", "amber"),
    "white": ("ivory", "snowy", "milky"),
}

PARAPHRASE_SHAPES: dict[str, tuple[str, ...]] = {
    "circle": ("disc", "disk", "orb", "sphere"),
    "square": ("box", "cube", "crate"),
    "triangle": ("pyramid", "wedge", "arrowhead"),
}

PARAPHRASE_SIZES: dict[str, tuple[str, ...]] = {
    "small": ("miniature", "petite", "wee"),
    "large": ("huge", "giant", "enormous", "massive"),
}

PARAPHRASE_BACKGROUNDS: dict[str, tuple[str, ...]] = {
    "black": ("ebony", "jet"),
    "grey": ("charcoal", "slate"),
    "navy": ("midnight",),
    "brown": ("chocolate", "umber"),
}

#: Verbs of travel that say no direction; a paraphrase pairs one with a direction word below.
PARAPHRASE_VERBS: tuple[str, ...] = ("gliding", "drifting", "sailing", "cruising", "zooming")

#: Evaluation-only motion words the parser knows (single words and short phrases).
PARAPHRASE_MOTIONS: dict[str, tuple[str, ...]] = {
    "right": ("rightwards", "rightward", "eastward", "eastwards"),
    "left": ("leftwards", "leftward", "westward", "westwards"),
    "up": ("ascending", "climbing", "soaring", "upwards", "skyward"),
    "down": ("descending", "sinking", "plummeting", "downwards", "downward"),
    "still": ("motionless", "stationary", "at rest", "immobile", "unmoving"),
    "bouncing": ("rebounding", "ricocheting", "to and fro"),
    "growing": ("expanding", "swelling", "enlarging", "inflating"),
}

#: How the paraphrase prompts say each motion; ``{verb}`` takes a word of :data:`PARAPHRASE_VERBS`.
PARAPHRASE_MOTION_PHRASES: dict[str, tuple[str, ...]] = {
    "right": ("{verb} rightwards", "{verb} rightward", "{verb} eastward"),
    "left": ("{verb} leftwards", "{verb} leftward", "{verb} westward"),
    "up": ("ascending", "climbing", "soaring skyward", "{verb} upwards"),
    "down": ("descending", "sinking", "plummeting", "{verb} downwards"),
    "still": ("remaining motionless", "at rest", "holding stationary", "that is immobile"),
    "bouncing": ("rebounding", "ricocheting to and fro", "bobbing to and fro"),
    "growing": ("expanding", "swelling", "slowly enlarging", "inflating"),
}

# --- glue words the parser knows -------------------------------------------------------------------------------

#: Words that start a noun phrase.
DETERMINERS: frozenset[str] = frozenset({"a", "an", "one", "another", "the", "some"})
#: Words that say how many objects there are.
NUMBER_WORDS: dict[str, int] = {"one": 1, "single": 1, "lone": 1, "two": 2, "both": 2, "pair": 2, "couple": 2}
#: Nouns for "an object" that name no shape.
GENERIC_NOUNS: frozenset[str] = frozenset(
    {"object", "objects", "shape", "shapes", "thing", "things", "item", "items", "something", "figure", "figures"}
)
#: Nouns that make the colour word before them the background's.
BACKGROUND_NOUNS: frozenset[str] = frozenset({"background", "backdrop", "backgrounds"})
#: Words and marks that end a run of adjectives (an adjective before them describes what came before).
BREAKERS: frozenset[str] = frozenset(
    {",", ";", ":", ".", "and", "while", "whereas", "as", "but", "then", "meanwhile", "with", "alongside", "beside"}
)
