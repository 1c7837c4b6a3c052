"""Sora Studio: ``sora studio`` serves a browser node editor that builds, checks and runs pipelines.

The server (:func:`sora_core.studio.app.create_app`) answers a small JSON API (docs/studio.md): the palette
from the installed particles' manifests (no plugin code imported), templates, live graph checks by the same
validator ``sora run`` uses, spec import and export, and runs with per-node progress. The page itself is a
React Flow app built at set-up time into ``sora_core/studio/static`` (nothing is fetched at run time).
"""

from __future__ import annotations

__all__ = ["create_app"]


def __getattr__(name: str) -> object:
    if name == "create_app":
        from sora_core.studio.app import create_app

        return create_app
    raise AttributeError(name)
