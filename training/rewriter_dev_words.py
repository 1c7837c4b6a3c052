"""The project's own words for calibrating the prompt rewriter's thresholds (``eval_rewriter --words``).

Written for this purpose, without the evaluation paraphrases of sora-synth in view and never read by the
rewriter: nouns for round, four-sided and pointed things, nouns that are no shape, motion phrases, and
colour words, each with the target a reader would give it.
"""

from __future__ import annotations


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


SHAPE_NOUNS: dict[str | None, tuple[str, ...]] = {
    "circle": _words("wheel ring coin moon bubble pebble planet marble button plate hoop lens donut pearl globe "
                     "balloon cookie"),
    "square": _words("tile brick dice slab panel frame window card book rectangle stamp envelope napkin tablet "
                    "chessboard"),
    "triangle": _words("cone tent ramp arrow spike shard fin sail tooth roof mountain peak funnel horn beak claw"),
    None: _words("cat dog piano car tree person house bird flower guitar man robot fish horse"),
}  # fmt: skip

MOTION_PHRASES: dict[str, tuple[str, ...]] = {
    "right": ("drifting right", "sliding rightward", "heading east", "going to the right side", "travels rightwards",
              "moves toward the right edge", "zooming right", "cruising to the right"),
    "left": ("drifting left", "sliding leftward", "heading west", "travels leftwards", "moves toward the left edge",
             "zooming left", "cruising to the left", "creeping left"),
    "up": ("ascending", "climbing", "soaring upward", "lifting off", "drifting upwards", "going skyward",
           "floating to the top"),
    "down": ("descending", "sinking", "plunging", "dropping toward the bottom", "tumbling downward", "sliding down",
             "falling to the floor"),
    "still": ("motionless", "at rest", "not moving at all", "frozen in place", "resting", "stationary", "idle",
              "staying put"),
    "bouncing": ("bouncing around", "ricocheting", "hopping", "rebounding", "springing back and forth",
                 "bounding about"),
    "growing": ("expanding", "getting larger", "swelling", "inflating", "enlarging", "increasing in size"),
}  # fmt: skip

#: Phrases after a noun that are no motion of the domain.
NOT_MOTIONS: tuple[str, ...] = ("playing the piano", "eating", "singing loudly", "reading a book", "talking")

COLOUR_WORDS: dict[str, tuple[str, ...]] = {
    "red": _words("cherry maroon cardinal vermilion cinnabar tomato firebrick carmine blood raspberry"),
    "green": _words("forest grass kelly mint olive sage pine shamrock moss clover"),
    "blue": _words("cerulean cornflower denim ultramarine periwinkle royal sky"),
    "yellow": _words("gold canary mustard sunflower butter banana saffron daffodil dandelion"),
    "purple": _words("lavender lilac magenta mauve orchid grape eggplant aubergine indigo fuchsia"),
    "cyan": _words("aquamarine seafoam ice cyan robin"),
    "orange": _words("apricot peach pumpkin carrot rust copper coral mango marigold ochre"),
    "white": _words("snow cream pearl chalk linen bone eggshell alabaster frost porcelain"),
}
