"""Session fixtures: the three tiny diffusers folders (Wan, CogVideoX, LTX-Video), written once per run."""

from __future__ import annotations

from pathlib import Path

import pytest
from sora_diffusers.tiny import write_tiny_folder


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding ``wan/``, ``cogvideox/`` and ``ltx/``: tiny random pipelines saved by diffusers."""
    root = tmp_path_factory.mktemp("tiny-diffusers")
    for family in ("wan", "cogvideox", "ltx"):
        write_tiny_folder(family, root / family)
    return root


@pytest.fixture(scope="session")
def wan_folder(tiny_root: Path) -> Path:
    return tiny_root / "wan"


@pytest.fixture(scope="session")
def cogvideox_folder(tiny_root: Path) -> Path:
    return tiny_root / "cogvideox"


@pytest.fixture(scope="session")
def ltx_folder(tiny_root: Path) -> Path:
    return tiny_root / "ltx"
