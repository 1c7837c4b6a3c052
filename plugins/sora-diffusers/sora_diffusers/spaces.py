"""Space tags of the diffusers families, derived from model configs (no torch here).

A latent space names the VAE family with its channels and compressions
(``latent/wan-vae-c16t4s8@1``); a text space names the encoder family and width (``text/umt5-d4096@1``).
A Wan latent therefore never feeds a CogVideoX transformer, and a T5 output never feeds a transformer
trained on UMT5, even at equal sizes.
"""

from __future__ import annotations

FAMILIES = ("wan", "cogvideox", "ltx")


def latent_space(family: str, channels: int, temporal: int, spatial: int) -> str:
    """The latent space of ``family``'s VAE with these channels and compressions."""
    return f"latent/{family}-vae-c{channels}t{temporal}s{spatial}@1"


def text_space(model_type: str, width: int) -> str:
    """The token-embedding space of a T5-family encoder (``t5``, ``umt5``) of this width."""
    return f"text/{model_type}-d{width}@1"


def checked_space(tag: str) -> str:
    """``tag`` if it is a well-formed space tag, else ``ValueError`` (for pydantic validators)."""
    from sora_core.errors import PortError
    from sora_core.spaces import validate_space

    try:
        return validate_space(tag)
    except PortError as exc:
        raise ValueError(exc.message) from None
