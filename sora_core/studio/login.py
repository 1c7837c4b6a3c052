"""The studio's login: a secret token in the address ``sora studio`` prints, then a cookie.

Listening on 127.0.0.1 keeps other machines out, not other users of this one; the token does (as Jupyter's
does). Opening ``http://127.0.0.1:PORT/?token=TOKEN`` sets an ``HttpOnly``, ``SameSite=Strict`` cookie for
that port and redirects to the address without the token, so the page, its requests and its video players
carry the cookie from then on. Scripts send ``Authorization: Bearer TOKEN``. Only ``/healthz`` answers
without either.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.responses import PlainTextResponse, RedirectResponse, Response

__all__ = ["StudioLogin", "cookie_name", "new_token"]

_PUBLIC = frozenset({"/healthz"})
_HINT = "open the address `sora studio` printed (it ends in ?token=...), or send Authorization: Bearer TOKEN"


def new_token() -> str:
    """A fresh login token: 32 hexadecimal digits (128 random bits)."""
    return secrets.token_hex(16)


def cookie_name(port: int | None) -> str:
    """The cookie of the studio on ``port``: cookies are shared by every port of a host, so each studio has its own."""
    return f"sora_studio_{port}" if port else "sora_studio"


class StudioLogin:
    """ASGI middleware: with ``token`` set, a request needs the token (query, cookie or bearer header); without it,
    ``refuse(message, hint)`` answers an API path and a short text the page paths."""

    def __init__(self, app: Any, token: str | None, refuse: Callable[[str, str], Response]) -> None:
        self.app = app
        self.token = token
        self.refuse = refuse

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self.token is None or scope["path"] in _PUBLIC:
            await self.app(scope, receive, send)
            return
        port = (scope.get("server") or (None, None))[1]
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        given = [value for key, value in query if key == "token"]
        if given:
            response = self._login(scope["path"], given[-1], [(k, v) for k, v in query if k != "token"], port)
        elif self._carries_token(scope, port):
            await self.app(scope, receive, send)
            return
        else:
            response = self._refusal(scope["path"], "this studio needs its login token")
        await response(scope, receive, send)

    def _login(self, path: str, given: str, rest: list[tuple[str, str]], port: int | None) -> Response:
        if not self._matches(given):
            return self._refusal(path, "the token in the address is not this studio's")
        target = path + (f"?{urlencode(rest)}" if rest else "")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(cookie_name(port), self.token or "", httponly=True, samesite="strict", path="/")
        return response

    def _carries_token(self, scope: dict[str, Any], port: int | None) -> bool:
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self._matches(credentials.strip()):
            return True
        try:
            morsel = SimpleCookie(headers.get("cookie", "")).get(cookie_name(port))
        except CookieError:
            return False
        return morsel is not None and self._matches(morsel.value)

    def _matches(self, given: str) -> bool:
        return hmac.compare_digest(given.encode("utf-8", "replace"), (self.token or "").encode("utf-8"))

    def _refusal(self, path: str, message: str) -> Response:
        if path.startswith("/api/"):
            return self.refuse(message, _HINT)
        return PlainTextResponse(f"Sora Studio: {message}.\n{_HINT[0].upper()}{_HINT[1:]}.\n", status_code=401)
