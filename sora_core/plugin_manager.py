"""The pluggy plugin manager, loaded from the ``sora.plugins`` entry points."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pluggy

from sora_core.discovery import PluginDistribution
from sora_core.hooks import PROJECT, SoraHookSpecs
from sora_core.metadata import PluginProblem

if TYPE_CHECKING:
    from sora_core.particle import Particle


class SoraPluginManager(pluggy.PluginManager):
    """A pluggy manager that records plugins which fail to load instead of failing itself."""

    def __init__(self) -> None:
        super().__init__(PROJECT)
        self.add_hookspecs(SoraHookSpecs)
        self.problems: list[PluginProblem] = []
        self._by_dist: dict[str, list[Any]] = {}

    @classmethod
    def from_distributions(cls, distributions: Iterable[PluginDistribution]) -> SoraPluginManager:
        manager = cls()
        for dist in distributions:
            for name, module_name in dist.plugin_modules.items():
                manager.load_plugin_module(dist.name, name, module_name)
        return manager

    def load_plugin_module(self, dist: str, name: str, module_name: str) -> None:
        """Import and register one hook module; a failure becomes a recorded problem."""
        try:
            module = importlib.import_module(module_name.split(":")[0])
            self.register(module, name=f"{dist}:{name}")
        except Exception as exc:  # a plugin can fail in any way at all
            self.problems.append(
                PluginProblem(
                    dist,
                    f"loading its hooks {module_name!r} failed: {type(exc).__name__}: {exc}",
                    "fix or reinstall the plugin; its other particles still work",
                )
            )
            return
        self._by_dist.setdefault(dist, []).append(module)

    def particle_classes(self, dist: str) -> dict[str, type[Particle]]:
        """Particles that ``dist``'s hooks register at run time."""
        found: dict[str, type[Particle]] = {}
        for module in self._by_dist.get(dist, []):
            hook = getattr(module, "sora_register_particles", None)
            if hook is not None:
                found.update(hook() or {})
        return found
