"""Importing a particle's class, turning every failure into a ``BrokenPluginError``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import importlib_metadata

from sora_core.discovery import PARTICLES_GROUP
from sora_core.errors import BrokenPluginError
from sora_core.metadata import ParticleInfo

if TYPE_CHECKING:
    from sora_core.particle import Particle


def load_particle_class(info: ParticleInfo, hook_classes: dict[str, type[Particle]] | None) -> type[Particle]:
    """Import the class behind ``info`` and check it against the manifest's kind."""
    from sora_core.particle import Particle

    if hook_classes is not None:
        if info.name not in hook_classes:
            raise BrokenPluginError(
                info.dist,
                f"its hooks no longer register particle {info.name!r} that its manifest lists",
                f"regenerate the manifest with `sora manifest {info.dist} --write`",
            )
        cls: object = hook_classes[info.name]
    else:
        entry_point = importlib_metadata.EntryPoint(name=info.name, value=info.entry_point, group=PARTICLES_GROUP)
        try:
            cls = entry_point.load()
        except Exception as exc:  # a plugin can fail to import in any way at all
            raise BrokenPluginError(
                info.dist,
                f"importing particle {info.name!r} ({info.entry_point}) failed: {type(exc).__name__}: {exc}",
            ) from exc
    if not (isinstance(cls, type) and issubclass(cls, Particle)):
        raise BrokenPluginError(
            info.dist,
            f"entry point {info.name!r} = {info.entry_point!r} is not a sora_core Particle subclass",
            "point the entry point at a class derived from a sora_core.interfaces kind",
        )
    if cls.kind != info.kind:
        raise BrokenPluginError(
            info.dist,
            f"particle {info.name!r} is of kind {cls.kind!r} but its manifest says {info.kind!r}",
            f"regenerate the manifest with `sora manifest {info.dist} --write`",
        )
    return cls
