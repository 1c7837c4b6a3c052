"""The OpenAPI 3.1 document of ``sora serve`` (``GET /openapi.json``), built from the app's own routes.

Each operation's summary is the first line of its endpoint's docstring; the generation request's fields
come from :data:`sora_core.serve.requests.FIELDS`, the one table the server checks requests against, so
the document cannot list a field the server refuses or leave out one it takes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sora_core.serve.requests import FIELDS, MAX_PROMPT_CHARS

_PROBLEM = {
    "type": "object",
    "properties": {
        "error": {"type": "string", "description": "what is wrong"},
        "field": {"type": ["string", "null"], "description": "the request field at fault"},
        "hint": {"type": "string", "description": "how to fix it"},
    },
    "required": ["error", "field", "hint"],
}
_JOB = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "status": {"enum": ["queued", "running", "done", "failed", "cancelled"]},
        "progress": {"type": "object", "description": "fraction, done and total pipeline nodes of the run"},
        "batch": {"type": ["object", "null"], "description": "size: jobs run in the same call; index: this one's"},
        "error": {"type": "string"},
        "hint": {"type": "string"},
        "video": {"type": "string", "description": "where the MP4 is, once done"},
    },
}


def generation_body() -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for name, (kind, description) in FIELDS.items():
        properties[name] = {"type": kind, "description": description}
    properties["prompt"].update(minLength=1, maxLength=MAX_PROMPT_CHARS)
    return {"type": "object", "properties": properties, "required": ["prompt"], "additionalProperties": False}


def clip_body(*text_fields: str) -> dict[str, Any]:
    properties: dict[str, Any] = {"video": {"type": "string", "format": "binary", "description": ".mp4 or .gif"}}
    properties.update({name: {"type": "string"} for name in text_fields})
    return {"type": "object", "properties": properties, "required": ["video", *text_fields]}


#: Request bodies by (method, path): JSON for generations, multipart for the clip routes.
BODIES: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
    ("POST", "/v1/generations"): ("application/json", generation_body()),
    ("POST", "/v1/captions"): ("multipart/form-data", clip_body()),
    ("POST", "/v1/answers"): ("multipart/form-data", clip_body("question")),
    ("POST", "/v1/summaries"): ("multipart/form-data", clip_body()),
}
#: Answers besides the refusals every route may give.
RESPONSES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/generations"): {"202": "queued: {id, status}", "429": "the queue is full (Retry-After)"},
    ("GET", "/v1/generations/{id}"): {"200": "the job", "404": "no such job"},
    ("GET", "/v1/generations/{id}/video"): {"200": "the MP4 (video/mp4)", "404": "no such job", "409": "not done"},
    ("DELETE", "/v1/generations/{id}"): {"200": "the cancelled job", "409": "already finished"},
    ("POST", "/v1/generations/{id}/cancel"): {"200": "the cancelled job", "409": "already finished"},
    ("POST", "/v1/captions"): {"200": "{caption}", "413": "the clip is too large"},
    ("POST", "/v1/answers"): {"200": "{question, answer}", "413": "the clip is too large"},
    ("POST", "/v1/summaries"): {"200": "{summary, key_frames}", "413": "the clip is too large"},
}


#: Query parameters by route.
QUERIES: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("GET", "/v1/generations/{id}"): [
        {
            "name": "wait",
            "in": "query",
            "required": False,
            "description": "answer once the job has finished, or after this many seconds (long polling)",
            "schema": {"type": "number", "minimum": 0, "maximum": 60},
        }
    ],
}


def openapi(routes: Iterable[Any], *, title: str, authenticated: bool) -> dict[str, Any]:
    """The document for starlette ``routes`` (each with ``path``, ``methods`` and ``endpoint``)."""
    paths: dict[str, Any] = {}
    for route in routes:
        methods = sorted(m for m in (route.methods or ()) if m != "HEAD")
        summary = (route.endpoint.__doc__ or "").strip().splitlines()[0] if route.endpoint.__doc__ else ""
        for method in methods:
            key = (method, route.path)
            answers = {code: {"description": text} for code, text in RESPONSES.get(key, {"200": "OK"}).items()}
            answers["4XX"] = {
                "description": "refused: the body names the field and the fix",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
            }
            operation: dict[str, Any] = {"summary": summary, "responses": answers}
            if "{id}" in route.path:
                operation["parameters"] = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
            operation["parameters"] = operation.get("parameters", []) + QUERIES.get(key, [])
            if not operation["parameters"]:
                del operation["parameters"]
            if key in BODIES:
                media, schema = BODIES[key]
                operation["requestBody"] = {"required": True, "content": {media: {"schema": schema}}}
            paths.setdefault(route.path, {})[method.lower()] = operation
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1"},
        "paths": paths,
        "components": {"schemas": {"Problem": _PROBLEM, "Job": _JOB}},
    }
    if authenticated:
        document["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        document["security"] = [{"bearer": []}]
    return document
