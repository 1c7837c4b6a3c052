"""sora-seed: the seed design of sora-core, corrected, as four particles.

Reach the particles by name through the registry (``sora_core.registry.create("sora-seed:lstm-text-encoder")``);
importing this package imports nothing else, so listing plugins stays cheap.
"""

from __future__ import annotations

__all__: list[str] = []
