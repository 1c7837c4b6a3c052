"""Which words of a prompt the text side was trained on: word lists, stop words and a light stemmer (no torch).

A prompt batcher with ``known_words`` set (the ``t2v`` template sets ``t2v``) names the words of a prompt
that no training caption of the denoiser contained, so that a prompt about "a cat playing the piano" is not
answered with a confident clip of shapes as if it had been understood. What counts as known:

- every word of the word list: ``t2v`` is the list sora-dit ships in ``vocabularies/t2v.txt``, the words of
  the captions its default denoiser was trained on (written by ``python -m training.vocabulary``, which a
  test keeps equal to the training captions), or any file of one word per line (``#`` starts a comment);
- the same words inflected: :func:`stem` folds plurals, ``-ing``, ``-ed``, ``-er``/``-est`` and a final
  ``e`` ("circles", "moved", "bigger" are known when "circle", "move", "big" are);
- English function words (:data:`STOP_WORDS`: articles, pronouns, prepositions, conjunctions, auxiliaries),
  which carry no picture of their own, and numbers written in digits.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

from sora_core.errors import ConfigError

__all__ = ["STOP_WORDS", "known_stems", "read_word_list", "stem", "unknown_words", "words_of"]

_FUNCTION_WORDS = """
    a an the this that these those some any each every either neither no none all both another other such
    what which who whom whose where when why how whatever whichever
    i me my mine myself we us our ours ourselves you your yours yourself yourselves he him his himself she her
    hers herself it its itself they them their theirs themselves one ones
    is am are was were be been being has have had having do does did doing will would shall should can could
    may might must ought let lets
    and or but nor so yet if then else than as because while whilst although though unless until since
    whereas whether also too very just only even quite rather really almost again ever never not
    of in on at by for with without within from to there here now
"""
#: English function words: never reported as unknown, whatever the word list says. Words of place and
#: relation ("above", "behind", "between") are not among them: they say something a clip would have to show.
STOP_WORDS: frozenset[str] = frozenset(_FUNCTION_WORDS.split())

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_VOWELS = frozenset("aeiouy")


def words_of(text: str) -> list[str]:
    """The words of ``text``, lower case, in order (digits and punctuation dropped, "circle's" -> "circle")."""
    return [w[:-2] if w.endswith("'s") else w.replace("'", "") for w in _WORD.findall(text.lower())]


def stem(word: str) -> str:
    """A crude stem: the same for a word and its plural, ``-ing``, ``-ed``, ``-er`` and ``-est`` forms.

    Not a linguist's stem (irregular forms such as "rose" are not folded), but both the known words and the
    prompt's are stemmed alike, so "squares" meets "square" and "dropping" meets "drops".
    """
    w = word.lower()
    if len(w) > 4 and w.endswith(("ies", "ied")):
        w = w[:-3] + "y"
    elif len(w) > 3 and (w.endswith(("sses", "xes", "zes", "ches", "shes"))):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix in ("ing", "est", "ed", "er", "ly"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            break
    if len(w) > 2 and w[-1] == w[-2] and w[-1] not in _VOWELS:  # "bigg" -> "big", "fall" -> "fal"
        w = w[:-1]
    if len(w) > 3 and w.endswith("e"):  # "move" and "moving" -> "mov"
        w = w[:-1]
    return w


def read_word_list(source: str) -> frozenset[str]:
    """The words of a list: ``source`` names one sora-dit ships (``t2v``) or is a path to a UTF-8 file.

    One word (or phrase, split into its words) per line; ``#`` starts a comment. A missing, unreadable or
    empty list is a :class:`~sora_core.errors.ConfigError` naming it.
    """
    return _read_word_list(source)


@lru_cache(maxsize=16)
def _read_word_list(source: str) -> frozenset[str]:
    shipped = resources.files("sora_dit") / "vocabularies" / f"{source}.txt"
    hint = "set known_words to t2v (the list sora-dit ships) or to a file of one word per line; null checks nothing"
    try:
        if re.fullmatch(r"[a-z0-9_-]+", source) and shipped.is_file():
            text = shipped.read_text(encoding="utf-8")
        else:
            text = Path(source).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"known_words {source!r}: cannot read the word list ({error})", hint) from None
    words = frozenset(w for line in text.splitlines() for w in words_of(line.partition("#")[0]))
    if not words:
        raise ConfigError(f"known_words {source!r}: the word list holds no word", hint)
    return words


def known_stems(words: frozenset[str] | set[str], extra: tuple[str, ...] = ()) -> frozenset[str]:
    """The stems of ``words``, of the ``extra`` words and phrases, and of :data:`STOP_WORDS`."""
    every = set(words) | STOP_WORDS | {w for phrase in extra for w in words_of(phrase)}
    return frozenset(stem(w) for w in every) | frozenset(every)


def unknown_words(text: str, known: frozenset[str]) -> list[str]:
    """The words of ``text`` that neither are in ``known`` (from :func:`known_stems`) nor stem to one, in the
    order they first appear."""
    return list(dict.fromkeys(w for w in words_of(text) if w not in known and stem(w) not in known))
