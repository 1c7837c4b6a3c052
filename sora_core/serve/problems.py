"""Refusals of the HTTP API: a :class:`ServeError` is a ``SoraError`` with an HTTP status and the field at fault.

The app turns one into ``{"error": message, "field": field, "hint": hint}`` with its status (and headers,
e.g. ``Retry-After`` on 429). Any other ``SoraError`` met while checking a request is a 422 through
:func:`from_sora_error`; nothing a request does becomes a 500 with a traceback.
"""

from __future__ import annotations

from typing import Any

from sora_core.errors import SoraError


class ServeError(SoraError):
    """A request refused with ``status``; ``field`` names the part of the request at fault (or ``None``)."""

    def __init__(
        self,
        status: int,
        message: str,
        hint: str | None = None,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.status = status
        self.field = field
        self.headers = dict(headers or {})

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.message, "field": self.field, "hint": self.hint or ""}


def from_sora_error(exc: SoraError, field: str | None, status: int = 422) -> ServeError:
    """A ``SoraError`` from the api's own checks (a prompt, a size, a clip) as a refusal naming ``field``."""
    if isinstance(exc, ServeError):
        return exc
    return ServeError(status, exc.message, exc.hint, field=field)
