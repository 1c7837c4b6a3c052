"""pluggy hook specifications: how plugins extend sora-core at run time.

A plugin module that implements hooks is named in the ``sora.plugins`` entry
point group; it decorates functions with :data:`hookimpl`. Listing particles
never loads these modules; running a pipeline or asking for a kind, space or
template does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from sora_core.kinds import KindSpec
    from sora_core.particle import Particle
    from sora_core.spaces import SpaceSpec

PROJECT = "sora"
hookspec = pluggy.HookspecMarker(PROJECT)
#: Decorate a plugin's hook implementations with this.
hookimpl = pluggy.HookimplMarker(PROJECT)


class SoraHookSpecs:
    """The hooks a plugin may implement. Every hook is optional."""

    @hookspec
    def sora_register_particles(self) -> dict[str, type[Particle]]:
        """Particles created at run time, by short name (in addition to entry points)."""
        raise NotImplementedError

    @hookspec
    def sora_register_kinds(self) -> list[KindSpec]:
        """New kinds (interfaces) this plugin contributes."""
        raise NotImplementedError

    @hookspec
    def sora_register_spaces(self) -> list[SpaceSpec]:
        """Spaces (versioned meanings of port values) this plugin declares."""
        raise NotImplementedError

    @hookspec
    def sora_register_templates(self) -> dict[str, Any]:
        """Named pipeline templates: a spec as a dict, or a path to a YAML/JSON spec."""
        raise NotImplementedError

    @hookspec
    def sora_register_importers(self) -> list[Any]:
        """Importers (:class:`sora_core.importers.Importer`) that write pipeline specs from other libraries' model
        folders, for ``sora import`` and ``sora generate --model``."""
        raise NotImplementedError

    @hookspec
    def sora_before_node(self, pipeline: Any, node: str, particle: Particle, inputs: dict[str, Any]) -> None:
        """Called before a pipeline node runs."""

    @hookspec
    def sora_after_node(
        self, pipeline: Any, node: str, particle: Particle, outputs: dict[str, Any], seconds: float
    ) -> None:
        """Called after a pipeline node ran, with its outputs and wall time."""
