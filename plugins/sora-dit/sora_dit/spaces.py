"""Space tags sora-dit's particles read and write by default (no torch here).

sora-dit owns none of these spaces: the text space belongs to the text encoder it is
trained against (``sora-text``) and the latent space to the video VAE (``sora-vae``).
They are plain strings in configs, so a denoiser trained on another encoder or VAE only
changes its config.
"""

from __future__ import annotations

#: Token embeddings of ``sora-text:byte-transformer`` (D = 256): the default condition.
DEFAULT_TEXT_SPACE = "text/sora-byte-transformer@1"
#: Features per text token of the default text encoder.
DEFAULT_TEXT_DIM = 256


def causal_vae_latent_space(channels: int, temporal: int, spatial: int) -> str:
    """The space tag of ``sora-vae``'s causal VAE latent with these channels and compressions."""
    return f"latent/sora-causal-vae-c{channels}t{temporal}s{spatial}@1"


#: The default VAE latent: 8 channels, 4x temporal and 4x spatial compression.
DEFAULT_LATENT_SPACE = causal_vae_latent_space(8, 4, 4)


def checked_space(tag: str) -> str:
    """``tag`` if it is a well-formed space tag, else ``ValueError`` (for pydantic validators)."""
    from sora_core.errors import PortError
    from sora_core.spaces import validate_space

    try:
        return validate_space(tag)
    except PortError as exc:
        raise ValueError(exc.message) from None
