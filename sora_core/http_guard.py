"""Requests that another web site makes the user's browser send are refused (``sora serve``, ``sora studio``).

Both servers listen on 127.0.0.1 by default, and the studio has no login, so a page of any site open in the
user's browser could otherwise reach them:

- **Host.** With ``trusted_hosts`` set (the commands set it when they listen on a loopback address), a request
  whose ``Host`` header names any other host is refused: a site that re-points its own name at 127.0.0.1
  (DNS rebinding) can then neither read the answers nor start work. ``--allow-host NAME`` adds a name, for a
  reverse proxy that passes its own.
- **Origin.** A request that changes something (any method but GET, HEAD and OPTIONS) and carries an ``Origin``
  other than the server's own address is refused: a form on another site cannot post to it. Clients that are
  not browsers send no ``Origin`` and are not affected.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any
from urllib.parse import urlsplit

from starlette.responses import Response

#: Names that reach this machine's loopback address, trusted when a server listens there.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

#: How a server answers a refusal: ``answer(status, message, hint, field)``, in its own error format.
Answer = Callable[[int, str, str, str], Response]


def is_loopback(host: str) -> bool:
    """Whether ``host`` (the address a server listens on) is this machine's loopback."""
    return host.strip("[]") in LOOPBACK_HOSTS or host.startswith("127.")


def trusted_hosts(listen_host: str, allowed: Collection[str] = ()) -> frozenset[str] | None:
    """The ``Host`` names a server listening on ``listen_host`` answers: the loopback names and ``allowed`` on
    a loopback address; ``None`` (any name) elsewhere, where any client that reaches it can use it anyway."""
    if not is_loopback(listen_host):
        return None
    return LOOPBACK_HOSTS | {name.strip("[]").lower() for name in allowed}


def _hostname(authority: str) -> str:
    """``host`` of ``host:port`` (``::1`` of ``[::1]:8100``), lower-cased; ``""`` when it is not one."""
    try:
        return (urlsplit(f"//{authority}").hostname or "").lower()
    except ValueError:
        return ""


class BrowserGuard:
    """ASGI middleware refusing requests from other sites (see the module's docstring)."""

    def __init__(self, app: Any, trusted_hosts: Collection[str] | None, answer: Answer) -> None:
        self.app = app
        self.trusted_hosts = None if trusted_hosts is None else frozenset(h.strip("[]").lower() for h in trusted_hosts)
        self.answer = answer

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        refusal = self._refusal(scope["method"], headers.get("host", ""), headers.get("origin"))
        if refusal is None:
            await self.app(scope, receive, send)
            return
        await self.answer(*refusal)(scope, receive, send)

    def _refusal(self, method: str, host: str, origin: str | None) -> tuple[int, str, str, str] | None:
        if self.trusted_hosts is not None and _hostname(host) not in self.trusted_hosts:
            return (
                403,
                f"the request names host {host!r}, which is not this server's address",
                "use the address the server printed (http://127.0.0.1:PORT/), or start it with --allow-host NAME "
                "for a name of your own (a reverse proxy's)",
                "Host",
            )
        if method not in _SAFE_METHODS and origin is not None and _origin_authority(origin) != host.lower():
            return (
                403,
                f"a request from the page {origin!r} was refused: only pages of this server may change or run things",
                "use the server's own page, or a client that is not a browser",
                "Origin",
            )
        return None


def _origin_authority(origin: str) -> str:
    try:
        return urlsplit(origin).netloc.lower()
    except ValueError:
        return ""
