"""Shared fixtures of the core tests: a directory of synthetic plugins and registries over it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sora_core.registry import Registry


@pytest.fixture
def plugin_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty site directory on ``sys.path``; modules imported from it are forgotten afterwards."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    before = set(sys.modules)
    yield root
    for name in set(sys.modules) - before:
        module_file = getattr(sys.modules[name], "__file__", None) or ""
        if module_file.startswith(str(root)):
            del sys.modules[name]


@pytest.fixture
def make_registry(plugin_root: Path):
    """Build a registry that sees only the synthetic plugins in ``plugin_root``."""

    def make() -> Registry:
        return Registry(paths=[str(plugin_root)])

    return make
