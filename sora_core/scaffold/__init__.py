"""Scaffolding particle plugins: what ``sora new NAME --kind KIND`` writes.

::

    from sora_core.scaffold import plan_plugin, write_plugins

    plan = plan_plugin("my-blur", "video_decoder", author="Jane Doe <jane@example.org>")
    write_plugins([plan])  # my-blur/: pyproject.toml, README.md, LICENSE, my_blur/, tests/

A plan validates every input and renders the files in memory; writing stages each
project beside its target, generates its ``sora_manifest.json`` from the new code in a
fresh interpreter and renames the whole project into place. Nothing here imports torch.
"""

from __future__ import annotations

from sora_core.scaffold.generator import (
    DEFAULT_LICENSE,
    SUPPORTED_LICENSES,
    Author,
    PluginPlan,
    plan_plugin,
    supported_kinds,
    write_plugins,
)

__all__ = [
    "DEFAULT_LICENSE",
    "SUPPORTED_LICENSES",
    "Author",
    "PluginPlan",
    "plan_plugin",
    "supported_kinds",
    "write_plugins",
]
