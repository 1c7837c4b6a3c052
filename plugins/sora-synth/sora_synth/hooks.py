"""sora-synth's pluggy hooks: the ``video_evaluator`` kind.

Named in the ``sora.plugins`` entry point group; it imports no torch.
"""

from __future__ import annotations

from sora_core.hooks import hookimpl
from sora_core.kinds import KindSpec

VIDEO_EVALUATOR = KindSpec(
    name="video_evaluator",
    description="video (B, C, T, H, W) + prompt (B) -> scores (B, A): how well each video matches its prompt, "
    "per attribute",
    inputs=("video", "prompt"),
    outputs=("scores",),
    learned=False,
    contributed_by="sora-synth",
)


@hookimpl
def sora_register_kinds() -> list[KindSpec]:
    """The kinds sora-synth contributes."""
    return [VIDEO_EVALUATOR]
