"""Requests that another web site makes the user's browser send are refused.

The studio has no login, so what keeps it the user's own is where it listens (127.0.0.1) and this guard:

- **Host.** With ``trusted_hosts`` set (the CLI sets it when it listens on a loopback address), a request
  whose ``Host`` header names any other host is refused: a page of another site that re-points its own
  name at 127.0.0.1 (DNS rebinding) can then neither read the studio's answers nor run pipelines.
- **Origin.** A request that changes something (any method but GET, HEAD and OPTIONS) and carries an
  ``Origin`` other than the studio's own address is refused: a form on another site cannot start a run.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any
from urllib.parse import urlsplit

from starlette.responses import JSONResponse

from sora_core.studio.problems import StudioError, error_body

#: Names that reach this machine's loopback address, trusted when the studio listens there.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or name the studio listens on) is this machine's loopback."""
    return host.strip("[]") in LOOPBACK_HOSTS or host.startswith("127.")


def _hostname(authority: str) -> str:
    """``host`` of ``host:port`` (``::1`` of ``[::1]:8100``), lower-cased."""
    return (urlsplit(f"//{authority}").hostname or "").lower()


class BrowserGuard:
    """ASGI middleware refusing requests from other sites (see the module's docstring)."""

    def __init__(self, app: Any, trusted_hosts: Collection[str] | None) -> None:
        self.app = app
        self.trusted_hosts = None if trusted_hosts is None else frozenset(h.strip("[]").lower() for h in trusted_hosts)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
        refusal = self._refusal(scope["method"], headers.get("host", ""), headers.get("origin"))
        if refusal is None:
            await self.app(scope, receive, send)
            return
        await JSONResponse(error_body(refusal), status_code=refusal.status)(scope, receive, send)

    def _refusal(self, method: str, host: str, origin: str | None) -> StudioError | None:
        if self.trusted_hosts is not None and _hostname(host) not in self.trusted_hosts:
            return StudioError(
                403,
                f"the request names host {host!r}, which is not this studio's address",
                "open the studio at the address `sora studio` printed (http://127.0.0.1:PORT/), "
                "or pass --host to listen on another address",
                field="Host",
            )
        if method not in _SAFE_METHODS and origin is not None and urlsplit(origin).netloc.lower() != host.lower():
            return StudioError(
                403,
                f"a request from the page {origin!r} was refused: only the studio's own page may change or run things",
                "use the studio's page at the address `sora studio` printed",
                field="Origin",
            )
        return None
