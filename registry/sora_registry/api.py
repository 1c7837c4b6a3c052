"""The JSON API: uploads and their pre-check, catalog search, particle and project metadata, health."""

from __future__ import annotations

import math
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from sora_core.text import canonical_dist_name
from sora_registry import __version__
from sora_registry.errors import BadRequestError, ConflictError, NotFoundError, PermissionDeniedError
from sora_registry.html_layout import url_path
from sora_registry.names import normalize_project, normalize_version, version_identity
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


async def upload_check(request: Request) -> JSONResponse:
    """``GET /api/v1/upload-check?project=P[&version=V]``: would this token's user be allowed to publish?

    One cheap request before a client spends time building: 401 for a missing, unknown or revoked token, 403
    when another user owns ``P``, 409 when version ``V`` of ``P`` (or a version equal to it under PEP 440) is
    already published; 200 with the user otherwise. Nothing is stored; the upload itself checks all of it again.
    """
    service = _service(request)
    user = await run_in_threadpool(service.uploader.authenticate, request.headers.get("authorization"))
    params = request.query_params
    if not params.get("project"):
        raise BadRequestError("missing query parameter 'project'", "ask GET /api/v1/upload-check?project=P&version=V")
    project = normalize_project(params["project"])
    version = params.get("version")
    owners = [owner for _, owner in await run_in_threadpool(service.catalog.owners, project)]
    if owners and user not in owners:
        raise PermissionDeniedError(
            f"user {user!r} may not upload to project {project!r}: it is owned by " + ", ".join(map(repr, owners)),
            f"ask an owner or the administrator to run `sora-registry owner add {project} {user}`",
        )
    if version:
        version = normalize_version(version, f"project {project!r}")
        files = await run_in_threadpool(service.catalog.files, project)
        published = [f for f in files if version_identity(f.version) == version_identity(version)]
        if published:
            raise ConflictError(
                f"version {version} of {project!r} is already published ({', '.join(f.filename for f in published)})",
                "a published version never changes: bump the version in pyproject.toml and publish again",
            )
    return JSONResponse({"user": user, "project": project, "version": version, "owners": owners})


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
