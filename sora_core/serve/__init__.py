"""``sora serve``: an HTTP API over one text-to-video pipeline, built once, and the video-to-text templates.

One module a purpose: :mod:`~sora_core.serve.settings` (what the server is started with),
:mod:`~sora_core.serve.problems` (refusals as ``{"error", "field", "hint"}`` with a status),
:mod:`~sora_core.serve.requests` (a generation request checked field by field),
:mod:`~sora_core.serve.jobs` (job records on disk, written atomically, recovered after a restart),
:mod:`~sora_core.serve.backend` (the pipelines: one batched generation call, the understanders),
:mod:`~sora_core.serve.worker` (the bounded queue and the batching worker thread),
:mod:`~sora_core.serve.uploads` (uploaded clips, size-limited), :mod:`~sora_core.serve.auth` (bearer tokens),
:mod:`~sora_core.serve.schema` (the OpenAPI document) and :mod:`~sora_core.serve.app` (routes, the app factory).
See docs/serving.md.
"""

from __future__ import annotations

__all__ = ["ServeSettings", "create_app"]


def __getattr__(name: str) -> object:
    if name == "create_app":
        from sora_core.serve.app import create_app

        return create_app
    if name == "ServeSettings":
        from sora_core.serve.settings import ServeSettings

        return ServeSettings
    raise AttributeError(name)
