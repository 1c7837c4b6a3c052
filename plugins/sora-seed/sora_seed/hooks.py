"""sora-seed's pluggy hooks: the ``video_feature_decoder`` kind and the spaces its particles declare.

Named in the ``sora.plugins`` entry point group; it imports no torch.
"""

from __future__ import annotations

from pathlib import Path

from sora_core.hooks import hookimpl
from sora_core.kinds import KindSpec
from sora_core.spaces import SpaceSpec
from sora_seed.spaces import SPACES

TEMPLATES = Path(__file__).parent / "templates"

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


@hookimpl
def sora_register_templates() -> dict[str, Path]:
    """``seed``: the seed's SoraModel wired correctly; ``seed-original``: with its 512-vs-256 bug."""
    return {name: TEMPLATES / f"{name}.yaml" for name in ("seed", "seed-original")}
