"""sora-vae: a causal 3D-convolution video VAE as two particles.

Reach the particles by name through the registry
(``sora_core.registry.create("sora-vae:causal-vae-encoder")``). Importing this package imports
nothing else, so listing plugins stays cheap; the training helpers live in :mod:`sora_vae.losses`.
"""

from __future__ import annotations

__all__: list[str] = []
