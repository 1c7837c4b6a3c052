"""sora-seed's pluggy hooks: the ``video_feature_decoder`` kind and the spaces its particles declare.

Named in the ``sora.plugins`` entry point group; it imports no torch.
"""

from __future__ import annotations

from sora_core.hooks import hookimpl
from sora_core.kinds import KindSpec
from sora_core.spaces import SpaceSpec
from sora_seed.spaces import SPACES

VIDEO_FEATURE_DECODER = KindSpec(
    name="video_feature_decoder",
    description="per-frame video features (B, T, F) -> hidden features (B, T, H)",
    inputs=("features",),
    outputs=("hidden",),
    contributed_by="sora-seed",
)


@hookimpl
def sora_register_kinds() -> list[KindSpec]:
    """The kinds sora-seed contributes."""
    return [VIDEO_FEATURE_DECODER]


@hookimpl
def sora_register_spaces() -> list[SpaceSpec]:
    """The spaces sora-seed's particles write."""
    return list(SPACES)
