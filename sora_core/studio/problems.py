"""Refusals of the studio's API: ``{"error": {"type", "message", "hint", "field"}}`` with a 4xx status.

A :class:`StudioError` carries its status and the request field at fault; any other ``SoraError`` met while
answering (a spec that does not validate, an input the port cannot take) is a 422 naming its type.
"""

from __future__ import annotations

from typing import Any

from sora_core.errors import SoraError
from sora_core.serve.problems import ServeError


class StudioError(ServeError):
    """A request refused with ``status`` (and ``headers``, e.g. ``Retry-After``); ``field`` names the part of the
    request at fault (or ``None``). The studio answers it with :func:`error_body`."""


def error_body(exc: SoraError, field: str | None = None) -> dict[str, Any]:
    """The JSON body of a refusal: the error's type, message, hint and field."""
    return {
        "error": {
            "type": type(exc).__name__,
            "message": exc.message,
            "hint": exc.hint or "",
            "field": getattr(exc, "field", None) or field,
        }
    }
