"""Parsing untrusted JSON (manifests, weights configs, headers) into a ``SoraError`` instead of a crash.

``json.loads`` raises ``RecursionError`` on input nested a few thousand levels deep, and a value nested
hundreds of levels deep still breaks every recursive consumer after it (pages, ``json.dumps``, ``repr``).
:func:`load_json_bytes` measures the nesting first, cheaply and without recursion, and turns every
failure (bad UTF-8, bad JSON, too deep) into the error class the caller names.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sora_core.errors import ManifestError, SoraError

__all__ = ["MAX_JSON_DEPTH", "json_depth", "load_json_bytes"]

#: How deeply arrays and objects may nest; generated manifests and configs nest under 10 levels.
MAX_JSON_DEPTH = 64
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


def json_depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` in ``text``, ignoring brackets inside strings (no recursion)."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def load_json_bytes(
    data: bytes | str,
    what: str,
    *,
    error: type[SoraError] = ManifestError,
    hint: str | None = None,
    max_depth: int = MAX_JSON_DEPTH,
) -> Any:
    """Parse ``data`` (UTF-8 bytes or text) as JSON; raise ``error(message, hint)`` naming ``what`` on any failure.

    ``what`` names the source in messages (``"demo/sora_manifest.json"``); ``max_depth`` bounds the nesting.
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise error(f"{what} is not UTF-8 text (byte {exc.start})", hint) from None
    else:
        text = data
    depth = json_depth(text)
    if depth > max_depth:
        raise error(f"{what} nests JSON {depth} levels deep, more than the limit of {max_depth}", hint)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{what} is not valid JSON: {exc}", hint) from None
    except RecursionError:  # unreachable after the depth scan; kept so no input can escape as a crash
        raise error(f"{what} nests JSON too deeply", hint) from None
