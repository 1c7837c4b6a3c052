"""Importers: pipeline specs written from another library's model folder (a diffusers folder, say).

A plugin contributes importers through the ``sora_register_importers`` hook. Each one has a ``name`` (what
``sora import NAME PATH`` asks for), a one-line ``description``, ``claims(path)`` (whether a folder is in its
format, read without loading weights; ``sora generate --model PATH`` asks every importer) and
``to_spec(path)``, which returns a pipeline spec as plain data. The importer reads only the folder's data
files; which particles the spec names is the importer's own code, never the folder's text. This module
imports no torch.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from sora_core.errors import SpecError

if TYPE_CHECKING:
    from sora_core.pipeline.spec import PipelineSpec
    from sora_core.registry import Registry

__all__ = ["Importer", "available_importers", "find_importer", "import_spec", "importer_for_folder"]


@runtime_checkable
class Importer(Protocol):
    """What a plugin's ``sora_register_importers`` hook returns, one per folder format."""

    name: str
    description: str

    def claims(self, path: Path) -> bool:
        """Whether ``path`` is a folder in this importer's format (cheap: data files only)."""
        ...

    def to_spec(self, path: Path) -> dict[str, Any]:
        """A pipeline spec (plain data) that runs the model in ``path``; ``SoraError`` naming what is wrong."""
        ...


def available_importers(registry: Registry) -> dict[str, Importer]:
    """Every importer installed plugins contribute, by name (the first plugin to claim a name keeps it)."""
    found: dict[str, Importer] = {}
    for importers in registry.plugin_manager().hook.sora_register_importers():
        for importer in importers or ():
            if isinstance(importer, Importer):
                found.setdefault(importer.name, importer)
    return found


def _installed(found: dict[str, Importer]) -> str:
    listed = "; ".join(f"{name} ({found[name].description})" for name in sorted(found))
    return listed or "none (install a plugin that contributes one, such as sora-diffusers)"


def find_importer(name: str, registry: Registry) -> Importer:
    """The importer called ``name``; ``SpecError`` listing the installed ones otherwise."""
    found = available_importers(registry)
    if name not in found:
        raise SpecError(f"no installed plugin imports {name!r} folders", f"importers installed: {_installed(found)}")
    return found[name]


def importer_for_folder(path: str | os.PathLike[str], registry: Registry) -> Importer:
    """The installed importer that claims the folder ``path``; ``SpecError`` naming the folder otherwise."""
    folder = Path(path)
    if not folder.is_dir():
        raise SpecError(f"{folder} is not a folder", "pass the folder a model was saved to (or downloaded into)")
    found = available_importers(registry)
    for importer in found.values():
        if importer.claims(folder):
            return importer
    raise SpecError(
        f"{folder} is not a model folder any installed importer reads",
        f"importers installed: {_installed(found)}",
    )


def import_spec(importer: Importer, path: str | os.PathLike[str]) -> PipelineSpec:
    """``importer``'s spec for ``path``, validated as any spec file is."""
    from sora_core.pipeline.spec import spec_from_data

    folder = Path(path)
    if not folder.is_dir():
        raise SpecError(f"{folder} is not a folder", "pass the folder a model was saved to (or downloaded into)")
    return spec_from_data(importer.to_spec(folder), f"the {importer.name} import of {folder}")
