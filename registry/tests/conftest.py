"""Fixtures of the registry tests: a data directory, a live server on a free port, tokens, wheels."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sora_registry.testing import LiveServer, create_token


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def server(data_dir: Path) -> Iterator[LiveServer]:
    """A registry on 127.0.0.1 and a free port, with an empty data directory and a 1 MB upload limit."""
    with LiveServer(data_dir, max_upload_size=1_000_000) as live:
        yield live


@pytest.fixture
def token(server: LiveServer) -> str:
    """An upload token of user ``alice``."""
    return create_token(server.service, "alice")


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    """A directory to write test wheels into."""
    path = tmp_path / "wheels"
    path.mkdir()
    return path


@pytest.fixture
def stored(server: LiveServer, data_dir: Path) -> Callable[[], dict[str, object]]:
    """What the registry holds: files and staging leftovers on disk, and catalog rows."""

    def snapshot() -> dict[str, object]:
        on_disk = sorted(
            str(p.relative_to(data_dir))
            for sub in ("files", "tmp")
            for p in (data_dir / sub).rglob("*")
            if p != data_dir
        )
        return {
            "disk": on_disk,
            "projects": server.service.catalog.projects(),
            "particles": server.service.catalog.counts()["particles"],
        }

    return snapshot
