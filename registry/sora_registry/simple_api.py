"""The Python simple repository API: PEP 503 HTML and PEP 691 JSON (API version 1.1), and the files.

``pip install --index-url URL/simple NAME`` works against these routes unchanged: pip asks for
JSON in its ``Accept`` header and follows each file's URL, checking the ``#sha256=`` fragment
(HTML) or ``hashes`` (JSON) and ``requires-python``.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response, StreamingResponse

from sora_core.text import canonical_dist_name
from sora_registry.errors import BadRequestError, NotFoundError
from sora_registry.html_layout import esc, url_path
from sora_registry.names import check_safe_filename, normalize_project
from sora_registry.service import RegistryService
from sora_registry.storage.base import FileRecord

API_VERSION = "1.1"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "application/vnd.pypi.simple.v1+html"
_OFFERED = (  # (media type asked for, media type answered), preferred first on equal quality
    (JSON_TYPE, JSON_TYPE),
    ("application/vnd.pypi.simple.latest+json", JSON_TYPE),
    (HTML_TYPE, HTML_TYPE),
    ("application/vnd.pypi.simple.latest+html", HTML_TYPE),
    ("text/html", "text/html"),
)
_IMMUTABLE = "public, max-age=31536000, immutable"


def negotiate(request: Request) -> str:
    """The media type to answer with: PEP 691 negotiation on ``Accept`` (or ``?format=``), HTML by default.

    The highest quality wins; on equal quality JSON is preferred to HTML. ``*/*`` gets ``text/html``.
    """
    accept = request.query_params.get("format") or request.headers.get("accept") or "text/html"
    choices: list[tuple[float, int, str]] = []
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        for order, (asked, answered) in enumerate(_OFFERED):
            if quality > 0 and (media == asked or (media == "*/*" and answered == "text/html")):
                choices.append((-quality, order, answered))
    return min(choices)[2] if choices else "text/html"


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def _file_url(request: Request, record: FileRecord) -> str:
    return _root(request) + url_path("files", record.project, record.filename)


def _respond(request: Request, media: str, html_text: str, data: dict[str, Any]) -> Response:
    headers = {"Vary": "Accept"}
    if media == JSON_TYPE:
        return JSONResponse(data, media_type=JSON_TYPE, headers=headers)
    content_type = "text/html; charset=utf-8" if media == "text/html" else HTML_TYPE
    return Response(html_text, headers={**headers, "Content-Type": content_type})


async def simple_index(request: Request) -> Response:
    service: RegistryService = request.app.state.service
    projects = await run_in_threadpool(service.catalog.projects)
    root = _root(request)
    links = "".join(f'<a href="{esc(root + url_path("simple", p))}/">{esc(p)}</a><br>\n' for p in projects)
    html_text = _html_document("Simple index", links)
    data = {"meta": {"api-version": API_VERSION}, "projects": [{"name": p} for p in projects]}
    return _respond(request, negotiate(request), html_text, data)


async def to_simple_index(request: Request) -> Response:
    return RedirectResponse(_root(request) + "/simple/", status_code=301)


async def simple_project(request: Request) -> Response:
    service: RegistryService = request.app.state.service
    given = request.path_params["project"]
    try:
        project = normalize_project(given)
    except BadRequestError:
        raise NotFoundError(f"no project {given!r} on this index", "check the name (`sora search NAME`)") from None
    if project != given or not request.url.path.endswith("/"):
        return RedirectResponse(_root(request) + url_path("simple", project) + "/", status_code=301)
    files = await run_in_threadpool(service.catalog.files, project)
    if not files:
        raise NotFoundError(f"no project {project!r} on this index", "check the name, or publish it first")
    links = "".join(_html_link(request, f) for f in files)
    html_text = _html_document(f"Links for {project}", f"<h1>Links for {esc(project)}</h1>\n{links}")
    versions = list(dict.fromkeys(f.version for f in files))
    data = {
        "meta": {"api-version": API_VERSION},
        "name": project,
        "versions": versions,
        "files": [_json_file(request, f) for f in files],
    }
    return _respond(request, negotiate(request), html_text, data)


def _html_link(request: Request, record: FileRecord) -> str:
    requires = f' data-requires-python="{esc(record.requires_python)}"' if record.requires_python else ""
    href = f"{_file_url(request, record)}#sha256={record.sha256}"
    return f'<a href="{esc(href)}"{requires}>{esc(record.filename)}</a><br>\n'


def _json_file(request: Request, record: FileRecord) -> dict[str, Any]:
    return {
        "filename": record.filename,
        "url": _file_url(request, record),
        "hashes": {"sha256": record.sha256},
        "requires-python": record.requires_python,
        "size": record.size,
        "upload-time": record.uploaded,
        "yanked": False,
    }


def _html_document(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html><head>"
        f'<meta name="pypi:repository-version" content="{API_VERSION}"><title>{esc(title)}</title></head>\n'
        f"<body>\n{body}</body></html>\n"
    )


async def serve_file(request: Request) -> Response:
    service: RegistryService = request.app.state.service
    project, filename = request.path_params["project"], request.path_params["filename"]
    missing = NotFoundError(f"no file {filename!r} in project {project!r}", "see /simple/PROJECT/ for its files")
    try:
        check_safe_filename(filename)
        if normalize_project(project) != project:
            return RedirectResponse(_root(request) + url_path("files", canonical_dist_name(project), filename), 301)
    except BadRequestError:
        raise missing from None
    record = await run_in_threadpool(service.catalog.file, project, filename)
    if record is None:
        raise missing
    headers = {"ETag": f'"{record.sha256}"', "Cache-Control": _IMMUTABLE}
    path = service.blobs.local_path(record.key)
    if path is not None:
        if not path.is_file():
            raise NotFoundError(f"file {filename!r} is in the catalog but missing from storage", "restore the backup")
        return FileResponse(path, media_type="application/octet-stream", headers=headers, filename=filename)
    handle = await run_in_threadpool(service.blobs.open, record.key)
    return StreamingResponse(_chunks(handle), media_type="application/octet-stream", headers=headers)


async def _chunks(handle: Any) -> Any:
    with handle:
        while chunk := await run_in_threadpool(handle.read, 1 << 20):
            yield chunk
