"""Small text helpers shared by discovery, naming and the CLI."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[-_.]+")
#: C0 and C1 control characters (ESC starts terminal escape sequences), DEL, and the bidirectional overrides and
#: isolates that make text display in another order than it is stored ("Trojan Source").
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile("[\t\n\r]+")
#: Whole escape sequences, removed before single characters so no "[2J" residue is left: OSC (titles, links),
#: DCS/SOS/PM/APC strings, CSI (colours, cursor, clearing) and two-character escapes.
_ESCAPE_SEQUENCES = re.compile(
    "\x1b\\][^\x07\x1b]*(?:\x07|\x1b\\\\)?"
    "|\x1b[PX^_][^\x1b]*(?:\x1b\\\\)?"
    "|(?:\x1b\\[|\x9b)[0-?]*[ -/]*[@-~]?"
    "|\x1b[ -~]?"
)


def canonical_dist_name(name: str) -> str:
    """A distribution name normalised as PEP 503 does (``Sora_Seed`` -> ``sora-seed``)."""
    return _SEPARATORS.sub("-", name).lower()


def printable(text: object, *, one_line: bool = True) -> str:
    """``text`` safe to write to a terminal: control characters and bidi overrides removed.

    Text from a registry, a manifest or a file may carry escape sequences that retitle the terminal, hide
    output or fake a prompt; they are dropped. With ``one_line`` tabs and line breaks become one space (a
    table cell or a one-line message); otherwise they are kept.
    """
    result = str(text)
    if result.isprintable():
        # Nothing to remove: every control character, line break and bidi override is non-printable (Cc or Cf).
        return result
    if one_line:
        result = _LINE_BREAKS.sub(" ", result)
    return _UNPRINTABLE.sub("", _ESCAPE_SEQUENCES.sub("", result))
