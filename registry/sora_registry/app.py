"""The ASGI application: routes, error responses and security headers.

Every refusal is a :class:`~sora_registry.errors.RegistryError` turned into
``{"error", "hint", "problems"?}`` JSON with its status (an HTML page on the HTML routes).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sora_registry import api, simple_api, web
from sora_registry.errors import RegistryError
from sora_registry.pages import error_page
from sora_registry.service import RegistryService

log = logging.getLogger("sora_registry")

_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
        b"frame-ancestors 'none'; base-uri 'none'",
    ),
]
_HTML_PREFIXES = ("/particles/",)


def create_app(service: RegistryService, *, close_on_shutdown: bool = False) -> Starlette:
    """The registry's ASGI app serving ``service`` (pass ``close_on_shutdown`` when the app owns it)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        removed = service.uploader.remove_stale_staging()
        if removed:
            log.info("removed %d stale staging files from %s", removed, service.settings.staging_dir)
        yield
        if close_on_shutdown:
            service.close()

    routes = [
        Route("/", web.catalog, methods=["GET", "HEAD"]),
        Route("/particles/{distribution}/{name}", web.particle, methods=["GET", "HEAD"]),
        Route("/simple/", simple_api.simple_index, methods=["GET", "HEAD"]),
        Route("/simple", simple_api.to_simple_index, methods=["GET", "HEAD"]),
        Route("/simple/{project}/", simple_api.simple_project, methods=["GET", "HEAD"]),
        Route("/simple/{project}", simple_api.simple_project, methods=["GET", "HEAD"]),
        Route("/files/{project}/{filename}", simple_api.serve_file, methods=["GET", "HEAD"]),
        Route("/api/v1/files/{filename:path}", api.upload, methods=["PUT"]),
        Route("/api/v1/upload-check", api.upload_check, methods=["GET"]),
        Route("/api/v1/particles", api.search_particles, methods=["GET", "HEAD"]),
        Route("/api/v1/particles/{distribution}/{name}", api.particle, methods=["GET", "HEAD"]),
        Route("/api/v1/projects/{project}", api.project, methods=["GET", "HEAD"]),
        Route("/healthz", api.healthz, methods=["GET", "HEAD"]),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={RegistryError: _registry_error, HTTPException: _http_error, Exception: _unexpected},
    )
    # Starlette's own slash redirects are absolute URLs built from the Host header; the routes
    # that need one redirect relatively themselves.
    app.router.redirect_slashes = False
    app.state.service = service
    app.add_middleware(SecurityHeaders)
    return app


def _wants_html(request: Request) -> bool:
    path = request.url.path
    return path == "/" or path.startswith(_HTML_PREFIXES)


def _error_response(request: Request, status: int, data: dict[str, Any]) -> Response:
    if _wants_html(request):
        root = str(request.scope.get("root_path", "")).rstrip("/")
        index_url = request.app.state.service.settings.index_url
        html_text = error_page(status, data["error"], data.get("hint", ""), root=root, index_url=index_url)
        return HTMLResponse(html_text, status_code=status)
    return JSONResponse(data, status_code=status)


async def _registry_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RegistryError)
    if exc.status >= 500:
        log.error("%s %s: %s", request.method, request.url.path, exc.message)
    return _error_response(request, exc.status, exc.to_dict())


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        data = {"error": f"no such page: {request.method} {request.url.path}", "hint": "see docs/registry.md"}
    elif exc.status_code == 405:
        data = {
            "error": f"method {request.method} is not allowed on {request.url.path}",
            "hint": "uploads are PUT /api/v1/files/FILENAME; everything else is GET",
        }
    else:
        data = {"error": str(exc.detail), "hint": ""}
    return _error_response(request, exc.status_code, data)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    data = {
        "error": f"internal error: {type(exc).__name__}",
        "hint": "this is a bug in sora-registry; the server log has the traceback",
    }
    return _error_response(request, 500, data)


class SecurityHeaders:
    """Adds ``nosniff``, a strict Content-Security-Policy and friends to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *_SECURITY_HEADERS]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
