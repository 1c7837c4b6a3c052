"""Repository-wide test set-up: every test, core or plugin, gets its own discovery cache.

Property-based tests (hypothesis) run under the ``ci`` profile: a fixed example budget, derandomised so a
CI run is repeatable, no per-example deadline (these machines are shared and noisy). Set
``HYPOTHESIS_PROFILE=deep`` locally for a longer search.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile("deep", max_examples=5000, deadline=None, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ``SORA_CACHE_DIR`` at a fresh directory so no test reads or writes ``~/.cache/sora``."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("SORA_CACHE_DIR", str(cache))
    monkeypatch.delenv("SORA_NO_CACHE", raising=False)
    return cache
