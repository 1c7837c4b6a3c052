"""Repository-wide test set-up: every test, core or plugin, gets its own discovery cache."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ``SORA_CACHE_DIR`` at a fresh directory so no test reads or writes ``~/.cache/sora``."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("SORA_CACHE_DIR", str(cache))
    monkeypatch.delenv("SORA_NO_CACHE", raising=False)
    return cache
