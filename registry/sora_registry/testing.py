"""Helpers for tests and benchmarks: plugin wheels with chosen particles, a live server, an upload client.

* :func:`plugin_wheel` writes a valid plugin wheel (``sora_core.synthetic.write_wheel``) whose
  ``sora_manifest.json`` describes the given :class:`ParticleSpec`\\ s (kind, ports, spaces), with
  optional default weights (real safetensors plus their sha256 manifest);
* :class:`LiveServer` runs the app with uvicorn on ``127.0.0.1`` and a free port, in a thread;
* :func:`upload` PUTs a file the way ``sora publish`` does and returns ``(status, json)``.

Nothing here imports torch.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import struct
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

from sora_core.manifest import MANIFEST_FORMAT
from sora_core.synthetic import write_wheel
from sora_registry.service import RegistryService
from sora_registry.settings import DEFAULT_MAX_UPLOAD, Settings


@dataclass(frozen=True)
class ParticleSpec:
    """One particle of a test plugin: its manifest entry's kind, ports and description."""

    name: str
    kind: str = "video_generator"
    description: str = ""
    inputs: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {"condition": {"dtype": "float32", "shape": "B T C=8"}}
    )
    outputs: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {"video": {"dtype": "float32", "shape": "B T C=8"}}
    )
    weights: dict[str, list[float]] | None = None  # safetensors file name -> values of one F32 tensor


def plugin_wheel(
    directory: Path,
    dist: str,
    particles: list[ParticleSpec],
    *,
    version: str = "1.0.0",
    license: str | None = "Apache-2.0",
    extra_files: Mapping[str, bytes] | None = None,
    manifest: bytes | None = None,
) -> Path:
    """Write a plugin wheel for ``dist`` describing ``particles``; return its path."""
    package = dist.replace("-", "_")
    files: dict[str, bytes] = {}
    entries = {}
    for spec in particles:
        entries[spec.name] = _entry(package, spec)
        if spec.weights:
            files.update(weights_directory(f"{package}/weights/{spec.name}", package, spec))
    data = {"format": MANIFEST_FORMAT, "distribution": dist, "particles": entries, "kinds": [], "spaces": []}
    files.update(extra_files or {})
    return write_wheel(
        directory,
        dist,
        [spec.name for spec in particles],
        version=version,
        license=license,
        extra_files=files,
        manifest=manifest if manifest is not None else json.dumps(data, indent=1).encode(),
    )


def _entry(package: str, spec: ParticleSpec) -> dict[str, Any]:
    return {
        "entry_point": f"{package}.particles:{_class_name(spec.name)}",
        "kind": spec.kind,
        "description": spec.description or f"test particle {spec.name}",
        "inputs": spec.inputs,
        "outputs": spec.outputs,
        "config_schema": {
            "type": "object",
            "properties": {"size": {"type": "integer", "default": 8, "description": "features per step"}},
        },
        "default_config": {"size": 8},
        "default_weights": f"weights/{spec.name}" if spec.weights else None,
        "source": "entry-point",
    }


def _class_name(particle: str) -> str:
    return "".join(part.capitalize() for part in particle.replace("_", "-").split("-"))


def weights_directory(prefix: str, package: str, spec: ParticleSpec) -> dict[str, bytes]:
    """A pretrained directory's members under ``prefix``: config, safetensors files and their sha256 manifest."""
    config = {"format": 1, "particle": f"{package}.particles:{_class_name(spec.name)}", "kind": spec.kind, "config": {}}
    files = {"config.json": json.dumps(config).encode()}
    for name, values in (spec.weights or {}).items():
        files[name] = safetensors_bytes(values)
    listed = {name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)} for name, data in files.items()}
    members = {f"{prefix}/{name}": data for name, data in files.items()}
    members[f"{prefix}/manifest.json"] = json.dumps({"format": 1, "files": listed}).encode()
    return members


def safetensors_bytes(values: list[float]) -> bytes:
    """A safetensors file holding one F32 tensor ``weight``."""
    data = struct.pack(f"<{len(values)}f", *values)
    header = json.dumps({"weight": {"dtype": "F32", "shape": [len(values)], "data_offsets": [0, len(data)]}}).encode()
    return struct.pack("<Q", len(header)) + header + data


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- a live server and a client --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """The registry served by uvicorn on ``127.0.0.1`` in a background thread (a context manager).

    ``url`` is ``http://127.0.0.1:PORT``; ``service`` is the :class:`RegistryService` behind it.
    """

    def __init__(self, data_dir: Path, *, max_upload_size: int | None = None, root_path: str = "") -> None:
        import uvicorn

        from sora_registry.app import create_app

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        size = DEFAULT_MAX_UPLOAD if max_upload_size is None else max_upload_size
        self.service = RegistryService(Settings(data_dir, size, public_url=self.url + root_path))
        config = uvicorn.Config(
            create_app(self.service),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            root_path=root_path,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=f"sora-registry-{self.port}", daemon=True)

    def __enter__(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the test registry on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self.service.close()


@dataclass
class Reply:
    """An HTTP response: status, headers (lower-case names) and body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def request(
    url: str,
    method: str = "GET",
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    chunked: bool = False,
    timeout: float = 60.0,
) -> Reply:
    """One HTTP request with :mod:`http.client` (redirects are not followed)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        if chunked:
            connection.request(
                method, target, body=iter([body or b""]), headers=dict(headers or {}), encode_chunked=True
            )
        else:
            connection.request(method, target, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def upload(
    base_url: str,
    path: Path,
    token: str | None,
    *,
    filename: str | None = None,
    sha256: str | None = None,
    extra_headers: Mapping[str, str] | None = None,
    chunked: bool = False,
) -> Reply:
    """PUT ``path`` to ``/api/v1/files/FILENAME`` as ``sora publish`` does."""
    data = path.read_bytes()
    headers = {"X-Content-SHA256": sha256 if sha256 is not None else sha256_hex(data)}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    headers.update(extra_headers or {})
    name = quote(filename if filename is not None else path.name, safe="")
    return request(f"{base_url}/api/v1/files/{name}", "PUT", body=data, headers=headers, chunked=chunked)


def create_token(service: RegistryService, user: str) -> str:
    """A new upload token for ``user`` (what ``sora-registry token create`` does)."""
    from sora_registry import tokens

    new = tokens.generate()
    service.catalog.add_token(new.token_id, user, new.digest, "test")
    return new.secret
