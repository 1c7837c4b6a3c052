"""How sora-dit names a particle in its error messages (no torch here)."""

from __future__ import annotations

from sora_core.particle import Particle


def label(particle: Particle) -> str:
    """The name it was created by (``sora-dit:dit-denoiser``), else its class's qualified name."""
    return particle.registered_name or particle.display_name()
