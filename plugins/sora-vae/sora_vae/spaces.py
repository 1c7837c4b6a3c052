"""The latent space tag of the causal VAE, derived from its config (no torch, no pydantic here)."""

from __future__ import annotations

from sora_core.spaces import SpaceSpec

#: Defaults shared by the encoder and the decoder (and by :mod:`sora_vae.config`).
DEFAULT_LATENT_CHANNELS = 8
DEFAULT_TEMPORAL_COMPRESSION = 4
DEFAULT_SPATIAL_COMPRESSION = 4


def latent_space(latent_channels: int, temporal_compression: int, spatial_compression: int) -> str:
    """The space tag of latents written by a causal VAE of these sizes.

    Two VAEs share a tag only when their latents have the same layout, so a decoder never
    accepts another configuration's latents; a retrained VAE with an incompatible latent
    space bumps the version.
    """
    return f"latent/sora-causal-vae-c{latent_channels}t{temporal_compression}s{spatial_compression}@1"


#: The latent space of the default configuration.
DEFAULT_LATENT_SPACE = latent_space(DEFAULT_LATENT_CHANNELS, DEFAULT_TEMPORAL_COMPRESSION, DEFAULT_SPATIAL_COMPRESSION)

SPACES: tuple[SpaceSpec, ...] = (
    SpaceSpec(
        DEFAULT_LATENT_SPACE,
        "posterior mean of sora-vae's causal video VAE at its defaults: (B, 8, t, h, w) with "
        "t = 1 + (T - 1) / 4, h = H / 4, w = W / 4; the first frame is encoded on its own",
    ),
)
