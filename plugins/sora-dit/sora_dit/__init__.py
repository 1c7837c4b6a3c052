"""sora-dit: a diffusion transformer for sora-core, as particles.

Reach the particles by name through the registry (``sora_core.registry.create("sora-dit:dit-denoiser")``);
importing this package imports nothing else, so listing plugins stays cheap. The training helper
lives in :mod:`sora_dit.losses` (``training_loss``).
"""

from __future__ import annotations

__all__: list[str] = []
