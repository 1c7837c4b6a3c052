"""Captions in varied natural phrasing, and a parser that reads the intended attributes back.

:func:`caption` writes a caption for a :class:`~sora_synth.scene.Scene` from one of
:data:`TEMPLATES` (a sentence pattern whose object slots are filled with noun phrases or clauses
drawn from the training vocabulary in :mod:`sora_synth.lexicon`), deterministically from a
``numpy.random.Generator``. :func:`paraphrase` writes one from the evaluation-only vocabulary
("a crimson disc gliding rightwards").

:func:`parse_prompt` turns any prompt -- a caption in either vocabulary, or free text using
those words -- into a :class:`PromptSpec`: per object its colour, shape, motion and size, the
object count and the background. Unknown words are ignored; a prompt with no recognisable
attribute raises :class:`PromptError`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sora_core.errors import SoraError
from sora_synth.lexicon import (
    BACKGROUND_NOUNS,
    BREAKERS,
    DETERMINERS,
    GENERIC_NOUNS,
    NUMBER_WORDS,
    PARAPHRASE_BACKGROUNDS,
    PARAPHRASE_COLOURS,
    PARAPHRASE_MOTION_PHRASES,
    PARAPHRASE_MOTIONS,
    PARAPHRASE_SHAPES,
    PARAPHRASE_SIZES,
    PARAPHRASE_VERBS,
    TRAIN_BACKGROUNDS,
    TRAIN_COLOURS,
    TRAIN_MOTIONS,
    TRAIN_SHAPES,
    TRAIN_SIZES,
)
from sora_synth.scene import Scene
from sora_synth.vocabulary import COLOURS, MOTIONS, SHAPES, ObjectAttributes

__all__ = [
    "TEMPLATES",
    "Caption",
    "PromptError",
    "PromptSpec",
    "Template",
    "caption",
    "paraphrase",
    "parse_prompt",
]


class PromptError(SoraError, ValueError):
    """A prompt names nothing the synthetic domain knows (no colour, shape, motion or count)."""


# --- templates ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """A sentence pattern: ``{o1}``/``{o2}`` take an object as a noun phrase (``np``) or a clause; ``{bg}``
    the background's name."""

    id: str
    pattern: str
    forms: tuple[str, ...]

    @property
    def objects(self) -> int:
        return len(self.forms)


def _templates(*rows: tuple[str, str, tuple[str, ...]]) -> dict[str, Template]:
    return {row[0]: Template(*row) for row in rows}


#: Every sentence template, training and held-out alike (which ones are held out: ``sora_synth.splits``).
TEMPLATES: dict[str, Template] = _templates(
    ("one/np", "{o1}", ("np",)),
    ("one/clause", "{o1}", ("clause",)),
    ("one/there-is", "there is {o1}", ("np",)),
    ("one/video-of", "a video of {o1}", ("np",)),
    ("one/np-on-bg", "{o1} on a {bg} background", ("np",)),
    ("one/clause-on-bg", "{o1} on a {bg} background", ("clause",)),
    ("one/clip-showing", "a clip showing {o1}", ("np",)),
    ("one/we-see", "we see {o1}", ("np",)),
    ("one/in-this-scene", "in this scene, {o1}", ("clause",)),
    ("one/footage-backdrop", "footage of {o1} against a {bg} backdrop", ("np",)),
    ("one/camera-shows", "the camera shows {o1}", ("np",)),
    ("two/and", "{o1} and {o2}", ("np", "np")),
    ("two/objects", "two objects: {o1} and {o2}", ("np", "np")),
    ("two/while", "{o1} while {o2}", ("clause", "clause")),
    ("two/video-of", "a video of {o1} and {o2}", ("np", "np")),
    ("two/clauses", "{o1} and {o2}", ("clause", "clause")),
    ("two/on-bg", "{o1} and {o2} on a {bg} background", ("np", "np")),
    ("two/shapes", "two shapes: {o1}, and {o2}", ("np", "np")),
    ("two/meanwhile", "in this scene, {o1}, and meanwhile {o2}", ("clause", "clause")),
    ("two/footage-alongside", "footage of {o1} alongside {o2} against a {bg} backdrop", ("np", "np")),
)


@dataclass(frozen=True)
class Caption:
    """A caption's text and the template it came from."""

    text: str
    template: str


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _require_complete(attributes: ObjectAttributes) -> None:
    missing = [name for name in ("colour", "shape", "motion") if getattr(attributes, name) is None]
    if missing:
        raise PromptError(
            f"cannot caption the {attributes.describe()}: its {' and '.join(missing)} is not given",
            "caption a Scene, or give every object a colour, a shape and a motion",
        )


def _object_phrase(attributes: ObjectAttributes, form: str, rng: np.random.Generator) -> str:
    """An object in training words: a noun phrase (``a small red ball moving right``) or a clause."""
    _require_complete(attributes)
    assert attributes.colour and attributes.shape and attributes.motion  # for the type checker
    noun = _pick(rng, TRAIN_SHAPES[attributes.shape])
    words = [_pick(rng, TRAIN_COLOURS[attributes.colour]), noun]
    if attributes.size and rng.random() < 0.5:
        words.insert(0, _pick(rng, TRAIN_SIZES[attributes.size]))
    motion = TRAIN_MOTIONS[attributes.motion]
    if form == "clause":
        tail = [_pick(rng, motion.verb)] if rng.random() < 0.6 else ["is", _pick(rng, motion.ing)]
        return " ".join([_article(words[0]), *words, *tail])
    choice = rng.random()
    if motion.adjective and choice < 0.25:
        words.insert(len(words) - 2, _pick(rng, motion.adjective))  # "a small rising red ball"
        return " ".join([_article(words[0]), *words])
    if choice < 0.45:
        return " ".join([_article(words[0]), *words, "that", _pick(rng, motion.verb)])
    return " ".join([_article(words[0]), *words, _pick(rng, motion.ing)])


def _finish(text: str, rng: np.random.Generator) -> str:
    if rng.random() < 0.3:
        text = text[0].upper() + text[1:]
    if rng.random() < 0.3:
        text += "."
    return text


def caption(
    scene: Scene | Sequence[ObjectAttributes],
    rng: np.random.Generator,
    *,
    templates: Sequence[str] | None = None,
    background: str | None = None,
) -> Caption:
    """A caption for ``scene`` (or for objects' attributes and a ``background``) from one of ``templates``.

    ``templates`` are ids in :data:`TEMPLATES` (default: all); only those with as many object slots
    as the scene has objects are used. Deterministic for the state of ``rng``.
    """
    if isinstance(scene, Scene):
        objects, background = list(scene.attributes), scene.background
    else:
        objects = list(scene)
    ids = [t for t in (templates or TEMPLATES) if TEMPLATES[t].objects == len(objects)]
    if not ids:
        raise PromptError(
            f"no caption template for {len(objects)} object(s) among {list(templates or TEMPLATES)}",
            "pass templates with one and with two object slots",
        )
    template = TEMPLATES[_pick(rng, ids)]
    if "{bg}" in template.pattern and background is None:
        raise PromptError(f"template {template.id!r} names the background, but none was given", "pass background=")
    pairs = enumerate(zip(objects, template.forms, strict=True))
    slots = {f"o{i + 1}": _object_phrase(o, form, rng) for i, (o, form) in pairs}
    text = template.pattern.format(bg=_pick(rng, TRAIN_BACKGROUNDS[background]) if background else "", **slots)
    return Caption(_finish(text, rng), template.id)


# --- evaluation-only paraphrases ----------------------------------------------------------------------------------

#: Sentence patterns of the paraphrase prompts (their wording differs from every template too).
PARAPHRASE_PATTERNS: dict[int, tuple[str, ...]] = {
    1: ("{o1}", "{o1} against a {bg} backdrop", "picture {o1}"),
    2: ("{o1} and {o2}", "a pair of items: {o1}, plus {o2}", "{o1} beside {o2}"),
}


def _paraphrase_motion(motion: str, rng: np.random.Generator) -> str:
    return _pick(rng, PARAPHRASE_MOTION_PHRASES[motion]).format(verb=_pick(rng, PARAPHRASE_VERBS))


def paraphrase(objects: Sequence[ObjectAttributes], rng: np.random.Generator, *, background: str | None = None) -> str:
    """A prompt for ``objects`` in evaluation-only words only ("a crimson disc gliding rightwards")."""
    phrases = []
    for attributes in objects:
        _require_complete(attributes)
        assert attributes.colour and attributes.shape and attributes.motion  # for the type checker
        words = [_pick(rng, PARAPHRASE_COLOURS[attributes.colour]), _pick(rng, PARAPHRASE_SHAPES[attributes.shape])]
        if attributes.size and rng.random() < 0.4:
            words.insert(0, _pick(rng, PARAPHRASE_SIZES[attributes.size]))
        phrases.append(" ".join([_article(words[0]), *words, _paraphrase_motion(attributes.motion, rng)]))
    patterns = PARAPHRASE_PATTERNS[len(objects)]
    if background is None:
        patterns = tuple(p for p in patterns if "{bg}" not in p)
    pattern = _pick(rng, patterns)
    bg = _pick(rng, PARAPHRASE_BACKGROUNDS[background]) if background else ""
    return pattern.format(bg=bg, **{f"o{i + 1}": p for i, p in enumerate(phrases)})


# --- parsing -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PromptSpec:
    """What a prompt asks for: each object's attributes (``None`` where unsaid), the count, the background."""

    text: str
    objects: tuple[ObjectAttributes, ...]
    background: str | None = None
    unknown_words: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        return len(self.objects)


@dataclass(frozen=True)
class _Entry:
    category: str  # colour, shape, size, motion, background
    value: str
    plural: bool = False


def _plural(noun: str) -> str:
    return noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")


def _build_lexicon() -> dict[tuple[str, ...], _Entry]:
    lexicon: dict[tuple[str, ...], _Entry] = {}

    def add(phrase: str, entry: _Entry) -> None:
        lexicon[tuple(_tokens(phrase))] = entry

    train_motions = {motion: (*said.ing, *said.verb, *said.adjective) for motion, said in TRAIN_MOTIONS.items()}
    tables = (
        ("colour", (TRAIN_COLOURS, PARAPHRASE_COLOURS)),
        ("shape", (TRAIN_SHAPES, PARAPHRASE_SHAPES)),
        ("size", (TRAIN_SIZES, PARAPHRASE_SIZES)),
        ("background", (TRAIN_BACKGROUNDS, PARAPHRASE_BACKGROUNDS)),
        ("motion", (train_motions, PARAPHRASE_MOTIONS)),
    )
    for category, pair in tables:
        for table in pair:
            for value, phrases in table.items():
                for phrase in phrases:
                    add(phrase, _Entry(category, value))
                    if category == "shape":
                        add(_plural(phrase), _Entry(category, value, plural=True))
    keywords = {
        "right": ("right",),
        "left": ("left",),
        "up": ("up", "upward", "rise", "rises", "rising"),
        "down": ("down", "fall", "falls", "falling", "drop", "drops", "dropping"),
        "still": ("still", "not moving", "does not move", "doesn t move", "in place", "stays put", "staying put"),
        "bouncing": ("bounce", "bounces", "bouncing", "back and forth"),
        "growing": ("grow", "grows", "growing", "getting bigger", "gets bigger", "getting larger"),
    }
    for motion, words in keywords.items():
        for word in words:
            lexicon.setdefault(tuple(_tokens(word)), _Entry("motion", motion))
    return lexicon


_TOKEN = re.compile(r"[a-z]+|[,;:.]")


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


_LEXICON = _build_lexicon()
_LONGEST = max(len(k) for k in _LEXICON)
_MODIFIERS = ("colour", "size")


@dataclass
class _Item:
    start: int
    category: str  # an _Entry category, or det, number, generic, breaker, bgnoun, unknown
    value: str
    plural: bool = False


def _tag(tokens: list[str]) -> list[_Item]:
    items, i = [], 0
    while i < len(tokens):
        for length in range(min(_LONGEST, len(tokens) - i), 0, -1):
            entry = _LEXICON.get(tuple(tokens[i : i + length]))
            if entry is not None:
                items.append(_Item(i, entry.category, entry.value, entry.plural))
                i += length
                break
        else:
            word = tokens[i]
            if word in BREAKERS:
                category = "breaker"
            elif word in BACKGROUND_NOUNS:
                category = "bgnoun"
            elif word in NUMBER_WORDS and word not in ("one",):
                category = "number"
            elif word in DETERMINERS:
                category = "det"
            elif word in GENERIC_NOUNS:
                category = "generic"
            else:
                category = "unknown"
            items.append(_Item(i, category, word))
            i += 1
    return items


def parse_prompt(text: str) -> PromptSpec:
    """The attributes ``text`` asks for: per object colour, shape, motion, size; count; background.

    Objects are anchored on shape nouns (or a colour or size with no noun, "something red"); a
    colour or size attaches to the noun it precedes, a motion to the object it follows (or, as an
    adjective after a determiner, "a rising ball", to the noun it precedes). "two"/"both"/"a pair"
    sets the count when more objects are stated than described; a plural noun after "two" stands
    for two objects. Raises :class:`PromptError` when nothing in ``text`` is recognised.
    """
    if not isinstance(text, str):
        raise PromptError(f"a prompt must be a string, got {type(text).__name__}", "pass the prompt's text")
    items = _tag(_tokens(text))
    background = _take_background(items)
    heads = _heads(items)
    objects: list[dict[str, str | None]] = [dict.fromkeys(("colour", "shape", "motion", "size")) for _ in heads]
    head_at = {index: n for n, index in enumerate(heads)}
    for index, item in enumerate(items):
        if item.category not in ("colour", "size", "motion", "shape"):
            continue
        if index in head_at:
            owner = head_at[index]
        elif item.category == "shape":
            continue
        else:
            owner = _owner(items, heads, index)
        if owner is None:
            continue
        slot = objects[owner]
        if slot[item.category] is None:
            slot[item.category] = item.value
    attributes = [ObjectAttributes(**o) for o in objects]
    # "two red circles": a plural noun after a number stands for that many objects
    stated = max((NUMBER_WORDS[i.value] for i in items if i.category == "number"), default=0)
    if len(attributes) == 1 and items[heads[0]].plural:
        attributes *= max(stated, 2)
    if not attributes and any(i.category == "motion" for i in items):
        motion = next(i.value for i in items if i.category == "motion")
        attributes = [ObjectAttributes(motion=motion)]
    if stated > len(attributes):
        attributes += [ObjectAttributes()] * (stated - len(attributes))
    if not attributes:
        raise PromptError(
            f"prompt {text!r} names no colour, shape, motion or number of objects this domain knows",
            f"describe objects with words such as 'a red circle moving right' (colours: {', '.join(COLOURS)}; "
            f"shapes: {', '.join(SHAPES)}; motions: {', '.join(MOTIONS)})",
        )
    unknown = tuple(i.value for i in items if i.category == "unknown")
    return PromptSpec(text=text, objects=tuple(attributes), background=background, unknown_words=unknown)


def _take_background(items: list[_Item]) -> str | None:
    """Find "<colour> background"; turn those colour items into background items. Returns the background."""
    found = None
    for index, item in enumerate(items):
        if item.category == "bgnoun":
            for back in range(index - 1, max(-1, index - 3), -1):
                if items[back].category in ("colour", "background"):
                    found = found or (items[back].value if items[back].category == "background" else None)
                    items[back].category = "bgcolour"
                    break
                if items[back].category not in ("unknown",):
                    break
    return found


def _heads(items: list[_Item]) -> list[int]:
    """Indices of the items that stand for one object each."""
    heads = [i for i, item in enumerate(items) if item.category == "shape"]
    for i, item in enumerate(items):
        if item.category == "generic" and i > 0 and items[i - 1].category in _MODIFIERS:
            heads.append(i)
    for i, item in enumerate(items):
        # "something red moving left": a colour or size with no noun to attach to stands for an object
        if (
            item.category in _MODIFIERS
            and _next_head(items, heads, i) is None
            and _previous_head(heads, i) is None
            and not any(items[h].category in _MODIFIERS and abs(h - i) <= 2 for h in heads)
        ):
            heads.append(i)
    return sorted(heads)


def _next_head(items: list[_Item], heads: list[int], index: int) -> int | None:
    """The head that ``items[index]`` modifies from before it: only adjectives and unknown words between."""
    for j in range(index + 1, len(items)):
        if j in heads:
            return j
        if items[j].category not in (*_MODIFIERS, "motion", "unknown"):
            return None
    return None


def _previous_head(heads: list[int], index: int) -> int | None:
    before = [h for h in heads if h < index]
    return before[-1] if before else None


def _owner(items: list[_Item], heads: list[int], index: int) -> int | None:
    """Which object (position in ``heads``) the modifier or motion at ``index`` describes."""
    item = items[index]
    following = _next_head(items, heads, index)
    if item.category == "motion":
        opens = index == 0 or items[index - 1].category in ("det", "number", "breaker", *_MODIFIERS)
        target = following if (following is not None and opens) else _previous_head(heads, index)
        if target is None:
            target = next((h for h in heads if h > index), None)
    else:
        target = following if following is not None else _previous_head(heads, index)
    return heads.index(target) if target is not None else None
