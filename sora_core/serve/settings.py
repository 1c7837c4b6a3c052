"""What ``sora serve`` is started with: the pipeline, its default sizes, the queue, the data folder, tokens."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Largest uploaded clip, in bytes (``--max-upload-mb``).
DEFAULT_MAX_UPLOAD = 50 * 1024 * 1024


@dataclass(frozen=True)
class ServeSettings:
    """``template`` (a name or spec file) and ``generator`` (extra :class:`~sora_core.api.VideoGenerator`
    keywords: ``frames``, ``steps``, ``candidates``, ``swaps``, ...) make the pipeline; requests may change
    ``frames``, ``height``, ``width``, ``steps``, ``guidance`` and ``seed`` only. ``max_queue`` jobs may wait;
    ``max_batch`` compatible jobs run as one pipeline call, the worker waiting up to ``batch_wait_ms`` for more.
    ``token_digests``: sha256 digests of accepted bearer tokens (empty: no authentication). ``ray``: a cluster
    address (``auto``, ``local``, ``HOST:PORT``) to run the pipeline's nodes on Ray Serve, ``replicas`` of
    which (by node; default 1). ``trusted_hosts``: the ``Host`` names a request may use (``None``: any; see
    :mod:`sora_core.http_guard`)."""

    template: str = "t2v"
    data: Path = Path("sora-serve-data")
    generator: Mapping[str, Any] = field(default_factory=dict)
    max_queue: int = 16
    max_batch: int = 4
    batch_wait_ms: float = 50.0
    max_upload: int = DEFAULT_MAX_UPLOAD
    token_digests: frozenset[str] = frozenset()
    ray: str | None = None
    replicas: Mapping[str, int] = field(default_factory=dict)
    trusted_hosts: frozenset[str] | None = None
