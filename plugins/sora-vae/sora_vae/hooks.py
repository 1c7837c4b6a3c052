"""sora-vae's pluggy hooks: the latent space its default configuration writes.

Named in the ``sora.plugins`` entry point group; it imports no torch.
"""

from __future__ import annotations

from sora_core.hooks import hookimpl
from sora_core.spaces import SpaceSpec
from sora_vae.spaces import SPACES


@hookimpl
def sora_register_spaces() -> list[SpaceSpec]:
    """The latent space of the default causal VAE (other configurations derive their own tag)."""
    return list(SPACES)
