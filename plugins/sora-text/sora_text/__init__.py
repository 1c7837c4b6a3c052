"""sora-text: text encoders for sora-core.

Reach the particles by name through the registry (``sora_core.registry.create("sora-text:byte-transformer")``);
importing this package imports nothing else, so listing plugins stays cheap.
"""

from __future__ import annotations

__all__: list[str] = []
