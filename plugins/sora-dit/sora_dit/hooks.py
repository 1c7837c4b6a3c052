"""sora-dit's pluggy hooks: the ``latent_sampler``, ``prompt_batcher``, ``video_text_scorer`` and
``video_compositor`` kinds and the ``t2v`` template.

Named in the ``sora.plugins`` entry point group; it imports no torch.
"""

from __future__ import annotations

from pathlib import Path

from sora_core.hooks import hookimpl
from sora_core.kinds import KindSpec

TEMPLATES = Path(__file__).parent / "templates"

LATENT_SAMPLER = KindSpec(
    name="latent_sampler",
    description=(
        "text condition (N, L, D) -> latent (B, c, t, h, w): a sampling loop calling a denoiser and a "
        "scheduler bound as components"
    ),
    inputs=("condition",),
    outputs=("latent",),
    learned=False,
    contributed_by="sora-dit",
)

PROMPT_BATCHER = KindSpec(
    name="prompt_batcher",
    description="prompts (B) -> the texts to encode (N), e.g. each prompt and its unconditional twin for guidance",
    inputs=("prompt",),
    outputs=("text",),
    learned=False,
    contributed_by="sora-dit",
)

VIDEO_TEXT_SCORER = KindSpec(
    name="video_text_scorer",
    description=(
        "latent video (B, c, t, h, w) + text tokens (B, L, D) -> score (B): how well each video matches its text"
    ),
    inputs=("latent", "condition"),
    outputs=("score",),
    learned=True,
    contributed_by="sora-dit",
)

VIDEO_COMPOSITOR = KindSpec(
    name="video_compositor",
    description="layer videos (L, C, T, H, W) + layers per prompt (B) -> video (B, C, T, H, W): layers composed",
    inputs=("video", "layers"),
    outputs=("video",),
    learned=False,
    contributed_by="sora-dit",
)


@hookimpl
def sora_register_kinds() -> list[KindSpec]:
    """The kinds sora-dit contributes."""
    return [LATENT_SAMPLER, PROMPT_BATCHER, VIDEO_TEXT_SCORER, VIDEO_COMPOSITOR]


@hookimpl
def sora_register_templates() -> dict[str, Path]:
    """``t2v``: prompts -> text encoder -> DiT sampling loop -> VAE decoder; ``t2v-fast``: the same, with the
    sampling settings `sora tune` found (about a fifth of the seconds per video)."""
    return {"t2v": TEMPLATES / "t2v.yaml", "t2v-fast": TEMPLATES / "t2v-fast.yaml"}
