"""A prompt as people write it, read into objects with attributes, and written back in the generator's words.

A prompt is cut into one phrase per object and a scene phrase ("on a ... background") the way
``object-prompts`` cuts it. In each object phrase, leading function and framing words ("a video of")
and a count ("two", "a pair of") come first, then a noun phrase (adjectives, then one head noun), then
the motion: everything after the head. Colours are read from colour-name data (:mod:`.colours`), sizes,
shapes and motions by the nearest description under a sentence encoder (:mod:`.matcher`), directions
("rightwards") and numbers by grammar (:mod:`.grammar`). What was read is written back as the
generator's own words, one object phrase per object asked for ("two red circles" becomes two phrases,
so each is drawn as a layer of its own); an attribute the prompt does not give is left unsaid, except
that a thing with neither colour, shape nor motion is not an object the generator knows.
"""

from __future__ import annotations

import re
from itertools import takewhile
from typing import Any

from sora_dit.object_prompts import split_objects, split_scene
from sora_dit.rewriting.colours import colour_of, named_colour, nearest_colour
from sora_dit.rewriting.grammar import adjective_roots, count_of, direction_root, singular, tokens
from sora_dit.rewriting.matcher import SentenceMatcher
from sora_dit.rewriting.targets import Targets
from sora_dit.words import STOP_WORDS, stem

__all__ = ["ObjectReading", "Rewrite", "Rewriter", "Thresholds"]

_PUNCTUATION = frozenset(",;:.!?")
_DETERMINERS = frozenset(["a", "an", "the", "some", "another", "its", "their", "his", "her"])
#: "with" may bring a second object ("a red circle with a blue square") or a thing the motion names ("with a
#: giraffe"), so it is no conjunction of ``split_objects``: it is cut only before a shape the generator knows.
_COMPANION = re.compile(r"\b(?:along\s+with|with)\s+", re.IGNORECASE)


class Thresholds:
    """How close a word must come to a target to be read as it (cosine similarities; a colour distance)."""

    def __init__(self, shape: float, size: float, motion: float, colour_distance: float) -> None:
        self.shape, self.size, self.motion, self.colour_distance = shape, size, motion, colour_distance


class ObjectReading:
    """One object phrase: its attributes (None where not given), how many, and each word's reading."""

    def __init__(self, phrase: str) -> None:
        self.phrase = phrase
        self.count: int | None = None
        self.colour: str | None = None
        self.size: str | None = None
        self.shape: str | None = None
        self.motion: str | None = None
        self.plural = False
        self.readings: list[dict[str, Any]] = []
        self.unplaced: list[str] = []

    @property
    def known(self) -> bool:
        """Whether the generator knows anything this object is: a colour, a shape or a motion."""
        return any(v is not None for v in (self.colour, self.shape, self.motion))

    def read(self, words: str, attribute: str, value: str, how: str) -> None:
        self.readings.append({"words": words, "as": attribute, "value": value, "how": how})


class Rewrite:
    """A prompt's rewrite: the text for the generator and the report of how it was read."""

    def __init__(self, prompt: str) -> None:
        self.prompt = prompt
        self.text = prompt
        self.objects: list[ObjectReading] = []
        self.background: str | None = None
        self.background_readings: list[dict[str, Any]] = []
        self.unplaced: list[str] = []
        self.notes: list[str] = []

    def report(self) -> dict[str, Any]:
        """The JSON-able report: what was read as what, what could not be placed, and notes."""
        return {
            "prompt": self.prompt,
            "rewritten": self.text,
            "changed": self.text != self.prompt,
            "objects": [
                {
                    "phrase": obj.phrase,
                    "count": obj.count,
                    "colour": obj.colour,
                    "size": obj.size,
                    "shape": obj.shape,
                    "motion": obj.motion,
                    "known": obj.known,
                }
                for obj in self.objects
            ],
            "background": self.background,
            "read": [r for obj in self.objects for r in obj.readings] + self.background_readings,
            "unplaced": list(dict.fromkeys(self.unplaced)),
            "notes": self.notes,
        }


class Rewriter:
    """Reads prompts against ``targets`` with ``matcher`` (a sentence encoder) and colour-name data."""

    def __init__(self, targets: Targets, matcher: SentenceMatcher, thresholds: Thresholds) -> None:
        self.targets = targets
        self.matcher = matcher
        self.thresholds = thresholds
        self._framing = frozenset(stem(w) for w in targets.framing_words)
        self._generic = frozenset(targets.generic_nouns)
        self._shape_labels = {k: list(v) for k, v in targets.shapes.items()}
        self._size_labels = {k: list(v) for k, v in targets.sizes.items()}
        self._motion_labels = {k: list(v) for k, v in targets.motions.items()}
        self._motion_context = {k: [f"an object {w}" for w in v] for k, v in targets.motions.items()}

    # --- the whole prompt ------------------------------------------------------------------------------------

    def rewrite(self, prompt: str) -> Rewrite:
        result = Rewrite(prompt)
        body, scene = split_scene(prompt.strip())
        for phrase in split_objects(body):
            for obj in self._read_with_companions(phrase):
                result.objects.append(obj)
                result.unplaced += obj.unplaced
        if scene:
            self._read_background(scene, result)
        result.text = self._write(result)
        return result

    def _write(self, result: Rewrite) -> str:
        phrases = []
        budget = self.targets.max_objects
        for obj in result.objects:
            if not obj.known:
                continue
            asked = obj.count if obj.count else (2 if obj.plural else 1)
            if obj.count == 0 or (obj.plural and obj.count is None):
                result.notes.append(f"{obj.phrase!r} gives no number: drawn as {min(2, budget)}")
            drawn = min(asked, budget)
            if drawn < asked:
                result.notes.append(
                    f"{obj.phrase!r} asks for {asked}; the generator's clips hold at most "
                    f"{self.targets.max_objects} objects: drawing {drawn}"
                )
            budget -= drawn
            phrases += [self._object_words(obj)] * drawn
        if not phrases:
            return result.prompt
        text = " and ".join(phrases)
        if result.background:
            text += f" on a {result.background} background"
        return text

    def _object_words(self, obj: ObjectReading) -> str:
        words = [self.targets.word("size", obj.size)] if obj.size else []
        words += [obj.colour] if obj.colour else []
        words += [self.targets.word("shape", obj.shape) if obj.shape else "shape"]
        words += [self.targets.word("motion", obj.motion)] if obj.motion else []
        article = "an" if words[0][0] in "aeiou" else "a"
        return " ".join([article, *words])

    def _read_with_companions(self, phrase: str) -> list[ObjectReading]:
        """The objects of one phrase: itself, cut before each "with a <shape>" it names ("a red circle moving
        right with a blue square": two objects, each with its own words)."""
        for marker in _COMPANION.finditer(phrase):
            head, tail = phrase[: marker.start()].strip(" ,;"), phrase[marker.end() :].strip()
            first = next(iter(tokens(tail)), "")
            if not head or (first not in _DETERMINERS and count_of(first) is None):
                continue
            companion = self._read_object(tail)
            if companion.shape is None and not (companion.colour and self._names_generic_noun(companion)):
                continue
            rest = self._read_with_companions(tail)
            return [self._read_object(head), *rest]
        return [self._read_object(phrase)]

    @staticmethod
    def _names_generic_noun(obj: ObjectReading) -> bool:
        return any(r["as"] == "noun" for r in obj.readings)

    # --- one object ------------------------------------------------------------------------------------------

    def _read_object(self, phrase: str) -> ObjectReading:
        obj = ObjectReading(phrase.strip())
        words = [w for w in tokens(phrase) if w not in _PUNCTUATION]
        start = self._noun_phrase_start(words)
        for word in words[:start]:
            number = count_of(word)
            if number is not None:
                obj.count = number if obj.count in (None, 1) or number > 1 else obj.count
                obj.read(word, "count", str(number) if number else "unspecified", "number word")
            elif not self._is_lead_in(word):
                obj.unplaced.append(word)  # "a cat chasing a red ball": the cat is not drawn
        head, motion_words, i = self._noun_phrase(words, start, obj)
        if head is not None:
            self._read_head(head, obj)
        self._read_motion(motion_words + words[i:], obj)
        return obj

    def _noun_phrase_start(self, words: list[str]) -> int:
        """Where the object's noun phrase starts: after the lead-in ("a video of two"), or, when a colour or size
        word comes later, at the run of words that ends with it ("make a video where a small green ...")."""
        lead = 0
        while lead < len(words) and self._is_lead_in(words[lead]):
            lead += 1
        for k in range(lead, len(words)):
            word = words[k]
            if word in STOP_WORDS or count_of(word) is not None:
                continue
            if (
                colour_of([word]) is not None
                or self.matcher.match(word, self._size_labels, threshold=self.thresholds.size, margin=0.05).label
            ):
                start = k
                while start > lead and not self._is_lead_in(words[start - 1]):
                    start -= 1
                return start if start > lead else lead
            if k + 1 >= len(words) or words[k + 1] in STOP_WORDS:
                break  # a noun phrase ends here ("a circle that is red"): the colour after it is said of it
            if k > lead and words[k - 1] not in STOP_WORDS and count_of(words[k - 1]) is None:
                break  # past the first run of content words: that run is the noun phrase
        return lead

    def _is_lead_in(self, word: str) -> bool:
        return count_of(word) is not None or word in STOP_WORDS or stem(word) in self._framing

    def _noun_phrase(self, words: list[str], i: int, obj: ObjectReading) -> tuple[str | None, list[str], int]:
        """Adjectives then one head noun from ``words[i:]``: the head, motion adjectives, and where it ended."""
        motion_adjectives: list[str] = []
        colour_words: list[str] = []
        while i < len(words):
            word, following = words[i], words[i + 1 : i + 3]
            if word in STOP_WORDS:
                break
            if following and self._colour(f"{word} {following[0]}", obj):
                colour_words.append(f"{word} {following[0]}")
                i += 2
                continue
            if self._colour(word, obj):
                colour_words.append(word)
                i += 1
                continue
            has_more = bool(following) and not self._starts_motion(word, following)
            if word.endswith("ing") and len(word) > 4:
                if not has_more:
                    break  # "... sliding left": the motion starts here
                motion_adjectives.append(word)  # "a rising red ball"
                i += 1
                continue
            if word not in self._generic and self._size(word, obj):
                i += 1
                continue
            if has_more and self._colour(word, obj, adjective=True):
                colour_words.append(word)  # "a verdant ball": a looser colour list, for adjective places only
                i += 1
                continue
            if has_more and singular(word)[0] not in self._generic:
                obj.unplaced.append(word)
                i += 1
                continue
            return word, motion_adjectives, i + 1
        if len(colour_words) > 1:  # "a red brick": the last colour word is the noun
            noun = colour_words[-1]
            obj.readings = [r for r in obj.readings if r["words"] != noun]
            obj.colour = next((r["value"] for r in obj.readings if r["as"] == "colour"), None)
            return noun, motion_adjectives, i
        return None, motion_adjectives, i

    def _starts_motion(self, candidate: str, following: list[str]) -> bool:
        """Whether the word after ``candidate`` begins the motion, so the candidate is the head noun: a function
        word, a direction, an ``-ing`` or ``-ly`` word, or a verb agreeing with a singular noun ("disc glides")."""
        word = following[0]
        if word in STOP_WORDS or word in _PUNCTUATION or direction_root(word, self.targets.directions):
            return True
        if word.endswith(("ing", "ly")) and len(word) > 4:
            return True
        verb_like = word.endswith("s") and not word.endswith("ss") and singular(word)[0] not in self._generic
        return verb_like and not singular(candidate)[1]

    def _direction(self, word: str) -> str | None:
        return direction_root(word, self.targets.directions)

    # --- attributes ------------------------------------------------------------------------------------------

    def _colour(self, words: str, obj: ObjectReading, *, adjective: bool = False) -> bool:
        """Read ``words`` as the object's colour from colour-name data (also a word's root: "snowy"); with
        ``adjective`` (a word before the noun that nothing else placed) from the looser name list as well."""
        for candidate in (words, *([] if " " in words else adjective_roots(words))):
            match = named_colour(candidate) if adjective else colour_of(candidate.split())
            if match is None:
                continue
            nearest = nearest_colour(match.rgb, self.targets.object_colours)
            if nearest is None or nearest[1] > self.thresholds.colour_distance:
                return False
            if obj.colour is None:
                obj.colour = nearest[0]
            obj.read(words, "colour", nearest[0], f"{match.source}, distance {nearest[1]:.0f}")
            return True
        return False

    def _size(self, word: str, obj: ObjectReading) -> bool:
        match = self.matcher.match(word, self._size_labels, threshold=self.thresholds.size, margin=0.05)
        if match.label is None:
            return False
        obj.size = obj.size or match.label
        obj.read(word, "size", match.label, f"sentence encoder, similarity {match.similarity:.2f}")
        return True

    def _read_head(self, head: str, obj: ObjectReading) -> None:
        noun, plural = singular(head)
        obj.plural = plural
        if noun in self._generic or head in self._generic:
            obj.read(head, "noun", "any shape", "generic noun")
            return
        match = self.matcher.match(f"a {noun}", self._shape_labels, threshold=self.thresholds.shape, margin=0.02)
        if match.label is None:
            obj.unplaced.append(head)
            return
        obj.shape = match.label
        obj.read(head, "shape", match.label, f"sentence encoder, similarity {match.similarity:.2f}")

    def _read_motion(self, words: list[str], obj: ObjectReading) -> None:
        content = [w for w in words if w not in _PUNCTUATION and not self._predicative(w, obj)]
        if not any(w not in STOP_WORDS for w in content):
            return
        phrase = " ".join(content)
        reading = self._motion_of(content, phrase)
        if reading is None:
            obj.unplaced += [w for w in content if w not in STOP_WORDS]
            return
        obj.motion, how = reading
        obj.read(phrase, "motion", obj.motion, how)
        obj.unplaced += self._things_named(content)  # "gliding rightwards with a giraffe": the giraffe is not drawn

    def _motion_of(self, content: list[str], phrase: str) -> tuple[str, str] | None:
        """The motion the words after the noun describe and how it was read, or None."""
        directions = {self._direction(w) for w in content} - {None}
        destination = self._destination(content)
        if destination is not None:  # "from left to right"
            directions = {destination}
        opposite = [pair for pair in (("up", "down"), ("left", "right")) if set(pair) <= directions]
        if opposite and "bouncing" in self.targets.motions:
            return "bouncing", f"directions {' and '.join(opposite[0])}"
        if len(directions) == 1:
            return directions.pop(), "direction word"
        # the label is chosen in context ("an object that drops" reads better than "that drops"); the phrase on its
        # own must still come near that label's descriptions, or "playing the piano" would be read as a motion
        chosen = self.matcher.match(f"an object {phrase}", self._motion_context, threshold=-1.0).label
        if chosen is None:  # cannot happen with threshold -1 (cosine similarity); kept for the type checker
            return None
        alone = self.matcher.match(phrase, {chosen: self._motion_labels[chosen]}, threshold=self.thresholds.motion)
        if alone.label is None:
            return None
        return chosen, f"sentence encoder, similarity {alone.similarity:.2f}"

    def _things_named(self, content: list[str]) -> list[str]:
        """The head nouns of noun phrases inside a motion phrase ("with a giraffe", "past two trees"): things the
        generator does not draw there, unless they name a direction or part of the setting ("the screen")."""
        things = []
        for i, word in enumerate(content):
            if word not in _DETERMINERS and count_of(word) is None:
                continue
            run = list(takewhile(lambda w: w not in STOP_WORDS and count_of(w) is None, content[i + 1 :]))
            if not run or any(self._direction(w) for w in run):
                continue
            head = run[-1]
            if head not in self.targets.setting_nouns and singular(head)[0] not in self.targets.setting_nouns:
                things.append(head)
        return things

    def _predicative(self, word: str, obj: ObjectReading) -> bool:
        """A colour said after the noun ("a circle that is red"): read, and taken out of the motion (a size word
        there is motion: "getting bigger")."""
        if word in STOP_WORDS or self._direction(word):
            return False
        return self._colour(word, obj)

    def _destination(self, words: list[str]) -> str | None:
        """The direction after "to" in "from X to Y" (both named), else None."""
        for i in range(len(words) - 3):
            if words[i] == "from" and self._direction(words[i + 1]) and "to" in words[i + 2 : i + 4]:
                after = words[words.index("to", i + 2) + 1 :]
                return self._direction(after[0]) if after else None
        return None

    def _read_background(self, scene: str, result: Rewrite) -> None:
        words = [w for w in tokens(scene) if w not in STOP_WORDS and w not in _PUNCTUATION]
        colour_words = words[:-1]  # the last word is the scene noun ("background", "backdrop")
        for i in range(len(colour_words)):
            for span in (" ".join(colour_words[i : i + 2]), colour_words[i]):
                for candidate in (span, *adjective_roots(span)):
                    match = colour_of(candidate.split()) or named_colour(candidate)
                    nearest = match and nearest_colour(match.rgb, self.targets.background_colours)
                    if match and nearest:
                        result.background = nearest[0]
                        result.background_readings.append(
                            {"words": span, "as": "background", "value": nearest[0], "how": match.source}
                        )
                        return
        result.unplaced += colour_words
