"""English word shapes the rewriter reads by grammar alone: numbers, plural and derived forms, directions.

Closed word classes only (numerals, quantity words, the four directions); nothing here names a colour,
shape or motion of the generator by another word.
"""

from __future__ import annotations

import re

__all__ = [
    "CARDINALS",
    "QUANTITIES",
    "UNSPECIFIED",
    "adjective_roots",
    "count_of",
    "direction_root",
    "singular",
    "tokens",
]

CARDINALS: dict[str, int] = {
    word: number
    for number, word in enumerate(
        ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"), start=0
    )
}
#: Quantity words that say how many without a numeral.
QUANTITIES: dict[str, int] = {
    "single": 1, "lone": 1, "solitary": 1, "sole": 1,
    "pair": 2, "couple": 2, "both": 2, "twin": 2, "twins": 2, "duo": 2, "double": 2,
    "trio": 3, "triple": 3, "triplet": 3,
}  # fmt: skip
#: Words for "more than one" that give no number.
UNSPECIFIED = frozenset({"several", "many", "some", "multiple", "few", "various", "numerous", "lots", "bunch"})

_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+|[,;:.!?]")


def tokens(text: str) -> list[str]:
    """Lower-case words, digits and clause punctuation of ``text`` (hyphens split words: "sky-blue")."""
    return [t[:-2] if t.endswith("'s") else t.replace("'", "") for t in _TOKEN.findall(text.lower().replace("-", " "))]


def count_of(word: str) -> int | None:
    """The number a word says (digits, a numeral, a quantity word); 0 for "several"-like words; else None."""
    if word.isdigit():
        return int(word)
    if word in CARDINALS:
        return CARDINALS[word]
    if word in QUANTITIES:
        return QUANTITIES[word]
    return 0 if word in UNSPECIFIED else None


def singular(word: str) -> tuple[str, bool]:
    """``word`` in the singular (a rule of thumb) and whether it looked plural."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y", True
    if len(word) > 4 and word.endswith(("sses", "xes", "zes", "ches", "shes")):
        return word[:-2], True
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1], True
    return word, False


def adjective_roots(word: str) -> list[str]:
    """Nouns an adjective may be made from ("snowy" -> "snow", "golden" -> "gold", "reddish" -> "red")."""
    roots = []
    for suffix in ("ish", "en", "y"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            root = word[: -len(suffix)]
            roots.append(root)
            if len(root) > 2 and root[-1] == root[-2]:
                roots.append(root[:-1])  # "reddish" -> "redd" -> "red"
            roots.append(root + "e")  # "bluish" -> "blue"
    if word.endswith("ies") and len(word) > 4:
        roots.append(word[:-3] + "y")
    return roots


def direction_root(word: str, directions: dict[str, str]) -> str | None:
    """The motion a direction word names ("rightwards" -> ``directions["right"]``), or None."""
    for suffix in ("wards", "ward", ""):
        if word.endswith(suffix) and word[: len(word) - len(suffix)] in directions:
            return directions[word[: len(word) - len(suffix)]]
    return None
