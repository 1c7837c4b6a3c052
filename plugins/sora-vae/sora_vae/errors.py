"""The errors sora-vae raises: sora-core ``SoraError`` subclasses naming the particle, port and rule."""

from __future__ import annotations

from sora_core.errors import PortError


class VideoSizeError(PortError, ValueError):
    """A video or latent whose rank, channels, frame count or frame size the VAE cannot take."""
