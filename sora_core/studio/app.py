"""The ASGI app of ``sora studio``: the page (built at set-up time into ``static/``) and its JSON API.

Routes (docs/studio.md has examples): ``GET /api/particles``, ``/api/templates``, ``/api/templates/{name}``,
``/api/session``; ``POST /api/check``, ``/api/connect``, ``/api/fits``, ``/api/spec/import``,
``/api/spec/export``, ``/api/runs`` (multipart); ``GET /api/runs/{id}`` and its output files. Every refusal
is ``{"error": {"type", "message", "hint", "field"}}`` with a 4xx status; an unexpected exception is a 500 of
one line (the traceback goes to the log only).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from sora_core.errors import SoraError
from sora_core.http_guard import BrowserGuard
from sora_core.pipeline.spec import PipelineSpec, parse_endpoint, spec_from_data, spec_from_text
from sora_core.serve.app import read_body
from sora_core.studio import palette
from sora_core.studio.graph import GraphChecker
from sora_core.studio.login import StudioLogin
from sora_core.studio.problems import StudioError, error_body
from sora_core.studio.runs import RunStore

log = logging.getLogger("sora_core.studio")

#: Where ``npm run build`` puts the page (index.html, app.js, app.css).
STATIC_DIR = Path(__file__).parent / "static"
#: The largest JSON request (a spec is a few kB; the import text is capped at 1 MiB by the spec reader).
MAX_JSON_BYTES = 2 * 2**20
#: Room for a run form's spec and text fields around an uploaded clip.
_FORM_FRAMING = 4 * 2**20
#: Clip formats an uploaded video input may have.
CLIP_SUFFIXES = (".mp4", ".gif")


@dataclass
class StudioSettings:
    """What ``sora studio`` was started with: the spec opened first, where relative weights are read from,
    where run outputs go, the largest uploaded clip, and the host names a request may use (``None``: any;
    ``sora studio`` on a loopback address allows only the loopback names) and the login token (``None``: no
    login; see :mod:`sora_core.studio.login`)."""

    spec: PipelineSpec | None = None
    source: str | None = None
    base_dir: Path | None = None
    data: Path | None = None
    max_upload: int = 50 * 2**20
    trusted_hosts: frozenset[str] | None = None
    token: str | None = None


class Studio:
    """What the routes share."""

    def __init__(self, settings: StudioSettings, registry: Any) -> None:
        self.settings = settings
        self.registry = registry
        self.checker = GraphChecker(registry, settings.base_dir)
        folder = settings.data or Path(tempfile.mkdtemp(prefix="sora-studio-"))
        folder.mkdir(parents=True, exist_ok=True)
        self.runs = RunStore(folder, registry, settings.base_dir)


def _studio(request: Request) -> Studio:
    return request.app.state.studio


# --- reading requests --------------------------------------------------------------------------------------


async def _json(request: Request) -> dict[str, Any]:
    body = await read_body(request, MAX_JSON_BYTES)
    try:
        data = json.loads(body or b"null")
    except (ValueError, RecursionError):
        raise StudioError(400, "the body is not JSON", 'send a JSON object, e.g. {"spec": {...}}') from None
    if not isinstance(data, dict):
        raise StudioError(422, "the body must be a JSON object", 'send e.g. {"spec": {...}}')
    return data


def _spec(data: Any, field: str = "spec") -> PipelineSpec:
    if data is None:
        raise StudioError(422, f"the field {field!r} is missing", "send the graph as a pipeline spec", field=field)
    try:
        return spec_from_data(data, "the graph")
    except SoraError as exc:
        raise StudioError(422, exc.message, exc.hint, field=field) from None


def _text(data: dict[str, Any], field: str) -> str:
    value = data.get(field)
    if not isinstance(value, str):
        state = "is missing" if value is None else f"is {type(value).__name__}, not text"
        raise StudioError(422, f"the field {field!r} {state}", f"send {field} as a string", field=field)
    return value


# --- catalogue --------------------------------------------------------------------------------------------


async def particles(request: Request) -> Response:
    return JSONResponse(await run_in_threadpool(palette.palette, _studio(request).registry))


async def templates(request: Request) -> Response:
    return JSONResponse(await run_in_threadpool(palette.templates, _studio(request).registry))


async def template(request: Request) -> Response:
    from sora_core.pipeline.pipeline import portable_spec, template_spec

    registry = _studio(request).registry
    name = request.path_params["name"]
    try:
        spec, base_dir = await run_in_threadpool(template_spec, name, registry)
    except SoraError as exc:
        raise StudioError(404, exc.message, exc.hint, field="name") from None
    return JSONResponse({"spec": portable_spec(spec, base_dir).to_data()})


async def session(request: Request) -> Response:
    settings = _studio(request).settings
    return JSONResponse({"spec": settings.spec.to_data() if settings.spec else None, "source": settings.source})


# --- the graph --------------------------------------------------------------------------------------------


async def check(request: Request) -> Response:
    data = await _json(request)
    spec = _spec(data.get("spec"))
    return JSONResponse(await run_in_threadpool(_studio(request).checker.check, spec))


async def connect(request: Request) -> Response:
    data = await _json(request)
    spec, edge = _spec(data.get("spec")), _text(data, "edge")
    return JSONResponse(await run_in_threadpool(_studio(request).checker.connect, spec, edge))


async def fits(request: Request) -> Response:
    data = await _json(request)
    spec, node = _spec(data.get("spec")), _text(data, "node")
    return JSONResponse(await run_in_threadpool(_studio(request).checker.fits, spec, node))


async def import_spec(request: Request) -> Response:
    data = await _json(request)
    text = _text(data, "text")
    name = data.get("file") if isinstance(data.get("file"), str) else "the imported spec"
    try:
        spec = spec_from_text(text, str(name))
    except SoraError as exc:
        raise StudioError(422, exc.message, exc.hint, field="text") from None
    return JSONResponse({"spec": spec.to_data()})


async def export_spec(request: Request) -> Response:
    import yaml

    spec = _spec((await _json(request)).get("spec"))
    return JSONResponse({"yaml": yaml.safe_dump(spec.to_data(), sort_keys=False, allow_unicode=True, width=100)})


# --- runs -------------------------------------------------------------------------------------------------


async def start_run(request: Request) -> Response:
    studio = _studio(request)
    limit = studio.settings.max_upload
    if not request.headers.get("content-type", "").startswith(("multipart/form-data", "application/x-www-form")):
        raise StudioError(
            415, "a run is sent as a form (multipart/form-data)", "send the fields spec, seed, input.NAME"
        )
    length = request.headers.get("content-length", "")
    if length.strip().isdigit() and int(length) > limit + _FORM_FRAMING:
        raise StudioError(413, f"the run form is {int(length):,} bytes, over {limit:,}", "upload a smaller clip")
    try:
        form = await request.form(max_files=16, max_fields=256, max_part_size=_FORM_FRAMING)
    except Exception as exc:  # starlette's MultiPartException and the parser's own errors
        raise StudioError(400, f"the run form cannot be read: {exc}", "send multipart/form-data") from None
    try:
        spec_text = form.get("spec")
        if not isinstance(spec_text, str):
            raise StudioError(422, "the form field 'spec' is missing", "send the graph as JSON text", field="spec")
        try:
            spec = _spec(json.loads(spec_text))
        except (ValueError, RecursionError):
            raise StudioError(
                422, "the form field 'spec' is not JSON", "send the graph as JSON", field="spec"
            ) from None
        seed = _seed(form.get("seed"))
        fields = {key: form.get(key) for key in form if key not in ("spec", "seed")}
        inputs = await _inputs(studio, spec, fields, limit)
    finally:
        await form.close()
    run = studio.runs.start(spec, inputs, seed)
    return JSONResponse({"id": run.id, "status": "queued"}, status_code=202)


def _seed(value: Any) -> int | None:
    from sora_core.limits import check_seed

    if value is None or value == "":
        return None
    text = value if isinstance(value, str) else ""
    try:
        seed = int(text.strip())
    except ValueError:
        raise StudioError(422, f"seed {text[:40]!r} is not an integer", "give e.g. 0", field="seed") from None
    try:
        return check_seed(seed)
    except SoraError as exc:
        raise StudioError(422, exc.message, exc.hint, field="seed") from None


async def _inputs(studio: Studio, spec: PipelineSpec, fields: dict[str, Any], limit: int) -> dict[str, Any]:
    """Each pipeline input's value from its form field ``input.NAME`` (text, or an uploaded clip), parsed
    against the port it feeds; the graph must have no problem first."""
    problems = await run_in_threadpool(studio.checker.problems, spec)
    if problems:
        raise StudioError(
            422,
            f"the graph has {len(problems)} problem{'s' * (len(problems) > 1)}: " + "; ".join(problems),
            "fix what the problems panel lists, then run again",
            field="spec",
        )
    unknown = [key for key in fields if key.removeprefix("input.") not in spec.inputs or not key.startswith("input.")]
    if unknown:
        expected = ", ".join(f"input.{name}" for name in spec.inputs) or "none"
        raise StudioError(422, f"unknown form field {unknown[0]!r}", f"the inputs are {expected}", field=unknown[0])
    values: dict[str, Any] = {}
    for name, targets in spec.inputs.items():
        field = f"input.{name}"
        node, port = parse_endpoint(targets[0])
        particle = await run_in_threadpool(studio.checker.particle, spec.nodes[node])
        port_spec = particle.input_ports()[port].to_dict()
        value = fields.get(field)
        try:
            if isinstance(value, UploadFile):
                values[name] = await _clip(studio, name, value, limit)
            elif isinstance(value, str) and value != "":
                from sora_core.pipeline.values import parse_typed_value

                values[name] = parse_typed_value(name, value, port_spec)
            else:
                raise StudioError(
                    422, f"input {name!r} has no value", f"fill in {name} ({port_spec.get('dtype')})", field=field
                )
        except StudioError:
            raise
        except SoraError as exc:
            raise StudioError(422, exc.message, exc.hint, field=field) from None
    return values


async def _clip(studio: Studio, name: str, upload: UploadFile, limit: int) -> Any:
    from sora_core.pipeline.values import video_value

    suffix = Path(upload.filename or "").suffix.lower()
    field = f"input.{name}"
    if suffix not in CLIP_SUFFIXES:
        raise StudioError(
            415, f"input {name!r}: {upload.filename!r} is not a .mp4 or .gif clip", "upload one", field=field
        )
    if (upload.size or 0) > limit:
        raise StudioError(
            413, f"input {name!r}: the clip is over {limit:,} bytes", "upload a smaller clip", field=field
        )
    fd, temporary = tempfile.mkstemp(prefix="upload-", suffix=suffix, dir=studio.runs.folder)
    try:
        with os.fdopen(fd, "wb") as sink:
            await upload.seek(0)
            sink.write(await upload.read())
        return await run_in_threadpool(video_value, name, temporary)
    finally:
        Path(temporary).unlink(missing_ok=True)


async def get_run(request: Request) -> Response:
    run = _studio(request).runs.get(request.path_params["id"])
    if run is None:
        raise StudioError(404, f"no run {request.path_params['id']!r}", "start one with POST /api/runs", field="id")
    return JSONResponse(run.to_dict())


async def run_output(request: Request) -> Response:
    path = _studio(request).runs.output_file(request.path_params["id"], request.path_params["file"])
    if path is None or not path.is_file():
        raise StudioError(404, f"no output {request.path_params['file']!r} of that run", "see GET /api/runs/{id}")
    return FileResponse(path, media_type="video/mp4")


async def healthz(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def no_route(request: Request) -> Response:
    """Any other ``/api/...`` request: 405 for a route's other methods, else 404 (never the page's files)."""
    if any(route.path_regex.match(request.url.path) for route in API_ROUTES):
        raise StudioError(405, f"{request.method} is not allowed on {request.url.path}", "see docs/studio.md")
    raise StudioError(404, f"no route {request.url.path}", "see docs/studio.md for the routes")


# --- errors -----------------------------------------------------------------------------------------------


async def _sora_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SoraError)
    status = getattr(exc, "status", 422)
    return JSONResponse(error_body(exc), status_code=status, headers=getattr(exc, "headers", None))


def _refused(status: int, message: str, hint: str, field: str) -> Response:
    return JSONResponse(error_body(StudioError(status, message, hint, field=field)), status_code=status)


def _unauthorized(message: str, hint: str) -> Response:
    return _refused(401, message, hint, "token")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    refusal = StudioError(exc.status_code, str(exc.detail), "see docs/studio.md for the routes")
    return JSONResponse(error_body(refusal), status_code=exc.status_code)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    refusal = StudioError(
        500, f"unexpected {type(exc).__name__}", "this is a bug in sora-core or a plugin; the studio's log has it"
    )
    return JSONResponse(error_body(refusal), status_code=500)


# --- the app ----------------------------------------------------------------------------------------------

_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

API_ROUTES = [
    Route("/api/particles", particles, methods=["GET"]),
    Route("/api/templates", templates, methods=["GET"]),
    Route("/api/templates/{name}", template, methods=["GET"]),
    Route("/api/session", session, methods=["GET"]),
    Route("/api/check", check, methods=["POST"]),
    Route("/api/connect", connect, methods=["POST"]),
    Route("/api/fits", fits, methods=["POST"]),
    Route("/api/spec/import", import_spec, methods=["POST"]),
    Route("/api/spec/export", export_spec, methods=["POST"]),
    Route("/api/runs", start_run, methods=["POST"]),
    Route("/api/runs/{id}", get_run, methods=["GET"]),
    Route("/api/runs/{id}/outputs/{file}", run_output, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
]


def page_built(static: Path = STATIC_DIR) -> bool:
    """Whether the page has been built (``make setup`` builds it: npm ci, then npm run build)."""
    return (static / "index.html").is_file() and (static / "app.js").is_file()


def create_app(settings: StudioSettings | None = None, *, registry: Any = None, static: Path = STATIC_DIR) -> Starlette:
    """The studio app: the API, and the page from ``static`` when it is built (the API works without it)."""
    from sora_core import registry as default

    settings = settings or StudioSettings()
    studio = Studio(settings, registry or default.default_registry)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if settings.data is None:  # a folder of our own: the run outputs go with the studio
                studio.runs.close()

    routes: list[Any] = [*API_ROUTES, Route("/api/{rest:path}", no_route, methods=_ALL_METHODS)]
    if page_built(static):
        routes.append(Mount("/", app=StaticFiles(directory=static, html=True), name="page"))
    handlers: dict[Any, Any] = {SoraError: _sora_error, HTTPException: _http_error, Exception: _unexpected}
    guard = Middleware(BrowserGuard, trusted_hosts=settings.trusted_hosts, answer=_refused)
    login = Middleware(StudioLogin, token=settings.token, refuse=_unauthorized)
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=handlers, middleware=[guard, login])
    app.state.studio = studio
    return app
