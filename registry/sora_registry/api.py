"""The JSON API: uploads, catalog search, particle and project metadata, health."""

from __future__ import annotations

import math
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from sora_core.text import canonical_dist_name
from sora_registry import __version__
from sora_registry.errors import NotFoundError
from sora_registry.html_layout import url_path
from sora_registry.search import SearchQuery
from sora_registry.service import RegistryService


class CatalogJSONResponse(JSONResponse):
    """JSON of stored metadata: a NaN or infinity (which strict JSON cannot hold) is sent as ``null``.

    Manifests are parsed by Python's ``json``, which reads ``NaN``; a stored value must never make
    a page answer 500.
    """

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except ValueError:
            return super().render(_finite(content))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _service(request: Request) -> RegistryService:
    return request.app.state.service


async def upload(request: Request) -> JSONResponse:
    """``PUT /api/v1/files/{filename}``: the body is the file (see :mod:`sora_registry.uploads`)."""
    service = _service(request)
    record = await service.uploader.upload(request.path_params["filename"], request.headers, request.stream())
    root = str(request.scope.get("root_path", "")).rstrip("/")
    return JSONResponse(
        {
            "project": record.project,
            "version": record.version,
            "filename": record.filename,
            "sha256": record.sha256,
            "size": record.size,
            "url": root + url_path("files", record.project, record.filename),
        },
        status_code=201,
    )


async def search_particles(request: Request) -> JSONResponse:
    query = SearchQuery.from_params(request.query_params)
    result = await run_in_threadpool(_service(request).catalog.search, query)
    return CatalogJSONResponse(result.to_dict())


async def particle(request: Request) -> JSONResponse:
    distribution = canonical_dist_name(request.path_params["distribution"])
    name = request.path_params["name"]
    detail = await run_in_threadpool(_service(request).catalog.particle, distribution, name)
    if detail is None:
        raise NotFoundError(
            f"no particle {distribution}:{name} in this registry", "search for it: GET /api/v1/particles?q=NAME"
        )
    return CatalogJSONResponse(detail)


async def project(request: Request) -> JSONResponse:
    name = canonical_dist_name(request.path_params["project"])
    detail = await run_in_threadpool(_service(request).catalog.project, name)
    if detail is None:
        raise NotFoundError(f"no project {name!r} in this registry", "list them at /simple/")
    return CatalogJSONResponse(detail)


async def healthz(request: Request) -> JSONResponse:
    await run_in_threadpool(_service(request).catalog.ping)
    return JSONResponse({"status": "ok", "version": __version__})
