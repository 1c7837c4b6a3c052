"""The ASGI app of ``sora serve``: routes, error responses and the app factory :func:`create_app`.

Every refusal is ``{"error", "field", "hint"}`` JSON with a 4xx status; a ``SoraError`` from the api's checks
is a 422. An unexpected exception is a 500 of one line (the traceback goes to the server's log only).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from sora_core.errors import ConfigError, SoraError
from sora_core.http_guard import BrowserGuard
from sora_core.serve.auth import BearerAuth
from sora_core.serve.backend import Backend
from sora_core.serve.jobs import DONE, FINISHED, Job, JobStore
from sora_core.serve.problems import ServeError, from_sora_error
from sora_core.serve.requests import MAX_BODY_BYTES, parse_generation
from sora_core.serve.schema import openapi
from sora_core.serve.settings import ServeSettings
from sora_core.serve.uploads import read_clip
from sora_core.serve.worker import GenerationQueue

log = logging.getLogger("sora_core.serve")

#: Seconds a stopping server waits for the running batch to finish (its jobs are then done, not failed).
STOP_WAIT = 30.0


class Server:
    """What the routes share: the settings, the pipelines, the job store and the queue."""

    def __init__(self, settings: ServeSettings, backend: Backend) -> None:
        self.settings = settings
        self.backend = backend
        self.store = JobStore(settings.data)
        self.uploads = settings.data / "uploads"
        self.uploads.mkdir(exist_ok=True)
        self.queue = GenerationQueue(
            self.store,
            backend.generate,
            max_queue=settings.max_queue,
            max_batch=settings.max_batch,
            batch_wait_ms=settings.batch_wait_ms,
        )


def _server(request: Request) -> Server:
    return request.app.state.server


def _job(request: Request) -> Job:
    job = _server(request).store.get(request.path_params["id"])
    if job is None:
        raise ServeError(404, f"no generation job {request.path_params['id'][:40]!r}", "use the id POST returned")
    return job


# --- routes -----------------------------------------------------------------------------------------------


async def submit_generation(request: Request) -> Response:
    """Queue a video generation: 202 with the job's id."""
    from sora_core.safe_json import load_json_bytes

    server = _server(request)
    body = await read_body(request, MAX_BODY_BYTES)
    try:
        data = load_json_bytes(body, "the request body", error=ConfigError, hint='send e.g. {"prompt": "a red circle"}')
    except SoraError as exc:
        raise from_sora_error(exc, None, 400) from None
    generation = parse_generation(data, server.backend.defaults, server.backend.check_settings)
    job = server.queue.submit(generation)
    return JSONResponse({"id": job.id, "status": job.status}, status_code=202)


#: The longest ``?wait=`` of ``GET /v1/generations/{id}``, in seconds.
MAX_WAIT_SECONDS = 60
_WAIT_STEP = 0.05


async def get_generation(request: Request) -> Response:
    """The job's status, progress, batch and error; with ?wait=S, once it has finished or S seconds passed."""
    import asyncio

    job = _job(request)
    wait = _wait_seconds(request.query_params.get("wait"))
    deadline = asyncio.get_running_loop().time() + wait
    while job.status not in FINISHED and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(_WAIT_STEP)  # the in-memory record, read without a request: nothing for the CPU
    return JSONResponse(_server(request).store.snapshot(job))


def _wait_seconds(text: str | None) -> float:
    """``?wait=`` as seconds from 0 to :data:`MAX_WAIT_SECONDS` (0 when absent); a ``ServeError`` naming it."""
    if text is None:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= MAX_WAIT_SECONDS:  # also NaN
        raise ServeError(
            422,
            f"wait={text[:20]!r} is not a number of seconds from 0 to {MAX_WAIT_SECONDS}",
            "e.g. ?wait=30: the answer comes when the job has finished, or after 30 s with its status then",
            field="wait",
        )
    return value


async def get_video(request: Request) -> Response:
    """The finished job's MP4."""
    job = _job(request)
    if job.status != DONE:
        raise ServeError(
            409, f"job {job.id} is {job.status}, not done", "poll GET /v1/generations/{id} until its status is done"
        )
    path = _server(request).store.video_path(job.id)
    if not path.is_file():
        raise ServeError(404, f"the video of job {job.id} is missing from the data folder", "submit the job again")
    return FileResponse(path, media_type="video/mp4", filename=f"{job.id}.mp4")


async def cancel_generation(request: Request) -> Response:
    """Cancel a queued job (it never runs) or a running one (its video is dropped)."""
    server = _server(request)
    job = _job(request)
    server.queue.cancel(job)
    return JSONResponse(server.store.snapshot(job))


async def caption(request: Request) -> Response:
    """Describe an uploaded clip in words (the v2t template)."""
    return await _understand(request, "caption")


async def answer(request: Request) -> Response:
    """Answer the form field 'question' about an uploaded clip (the vqa template)."""
    return await _understand(request, "answer")


async def summary(request: Request) -> Response:
    """The key frames of an uploaded clip and a one-line summary (the summarize template)."""
    return await _understand(request, "summary")


async def openapi_document(request: Request) -> Response:
    """This document."""
    server = _server(request)
    return JSONResponse(
        openapi(request.app.routes, title="sora serve", authenticated=bool(server.settings.token_digests))
    )


async def healthz(request: Request) -> Response:
    """Liveness: the jobs waiting (and where the particles run, with --ray)."""
    server = _server(request)
    where = {"particles": server.backend.where()} if server.backend.where() else {}
    return JSONResponse({"status": "ok", "queued": server.queue.waiting, **where})


async def _understand(request: Request, kind: str) -> Response:
    from sora_core.api import check_question

    server = _server(request)
    fields = ("question",) if kind == "answer" else ()
    clip, texts = await read_clip(request, server.uploads, server.settings.max_upload, fields)
    try:
        question = None
        if kind == "answer":
            if "question" not in texts:
                hint = 'add e.g. -F "question=what colour is it?"'
                raise ServeError(422, "the form field 'question' is required", hint, field="question")
            try:
                question = check_question(texts["question"])
            except SoraError as exc:
                raise from_sora_error(exc, "question") from None
        result = await anyio.to_thread.run_sync(server.backend.understand, kind, clip, question)
    finally:
        clip.unlink(missing_ok=True)
    return JSONResponse(result)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 past ``limit`` bytes (announced or sent)."""
    length = request.headers.get("content-length", "")
    if length.strip().isdigit() and int(length) > limit:
        raise ServeError(413, f"the body is {int(length):,} bytes, over the limit of {limit:,}", "send a smaller body")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ServeError(413, f"the body is over the limit of {limit:,} bytes", "send a smaller body")
            chunks.append(chunk)
    except ClientDisconnect:
        raise ServeError(400, "the client disconnected before the body ended", "send the request again") from None
    return b"".join(chunks)


# --- errors -----------------------------------------------------------------------------------------------


def _problem(exc: ServeError) -> JSONResponse:
    return JSONResponse(exc.to_dict(), status_code=exc.status, headers=exc.headers)


def _refused(status: int, message: str, hint: str, field: str) -> Response:
    return _problem(ServeError(status, message, hint, field=field))


async def _serve_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, ServeError):
        return _problem(exc)
    assert isinstance(exc, SoraError)
    return _problem(from_sora_error(exc, None))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    hints = {404: "see GET /openapi.json for the routes", 405: "see GET /openapi.json for each route's methods"}
    refusal = ServeError(exc.status_code, str(exc.detail), hints.get(exc.status_code, ""))
    return _problem(refusal)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    refusal = ServeError(
        500, f"unexpected {type(exc).__name__}", "this is a bug in sora-core or a plugin; the server's log has it"
    )
    return _problem(refusal)


# --- the app ----------------------------------------------------------------------------------------------


ROUTES = [
    Route("/v1/generations", submit_generation, methods=["POST"]),
    Route("/v1/generations/{id}", get_generation, methods=["GET"]),
    Route("/v1/generations/{id}", cancel_generation, methods=["DELETE"]),
    Route("/v1/generations/{id}/video", get_video, methods=["GET"]),
    Route("/v1/generations/{id}/cancel", cancel_generation, methods=["POST"]),
    Route("/v1/captions", caption, methods=["POST"]),
    Route("/v1/answers", answer, methods=["POST"]),
    Route("/v1/summaries", summary, methods=["POST"]),
    Route("/openapi.json", openapi_document, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
]


def create_app(settings: ServeSettings, *, backend: Backend | None = None) -> Starlette:
    """The app serving ``settings``: the pipeline is built (and checked) here, before anything listens; the
    worker thread runs while the app's lifespan does (``with TestClient(app)``, or under uvicorn)."""
    server = Server(settings, backend or Backend(settings))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        server.queue.start()
        try:
            yield
        finally:
            server.queue.stop(timeout=STOP_WAIT)
            if backend is None:  # built here: what it deployed on Ray Serve goes with the app
                server.backend.close()

    middleware = [Middleware(BrowserGuard, trusted_hosts=settings.trusted_hosts, answer=_refused)]
    if settings.token_digests:
        middleware.append(Middleware(BearerAuth, digests=settings.token_digests))
    handlers: dict[Any, Any] = {SoraError: _serve_error, HTTPException: _http_error, Exception: _unexpected}
    app = Starlette(routes=ROUTES, lifespan=lifespan, middleware=middleware, exception_handlers=handlers)
    app.state.server = server
    return app
