"""sora-text's pluggy hooks: the spaces its encoders write.

Named in the ``sora.plugins`` entry point group; it imports no torch.
"""

from __future__ import annotations

from sora_core.hooks import hookimpl
from sora_core.spaces import SpaceSpec
from sora_text.spaces import SPACES


@hookimpl
def sora_register_spaces() -> list[SpaceSpec]:
    """The spaces sora-text's encoders write."""
    return list(SPACES)
