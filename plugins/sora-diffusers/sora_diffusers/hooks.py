"""sora-diffusers' pluggy hooks: the ``guided_sampler`` and ``prompt_pairs`` kinds and the ``diffusers`` importer.

Named in the ``sora.plugins`` entry point group; it imports neither torch nor diffusers (the importer
reads only JSON files).
"""

from __future__ import annotations

from typing import Any

from sora_core.hooks import hookimpl
from sora_core.kinds import KindSpec

GUIDED_SAMPLER = KindSpec(
    name="guided_sampler",
    description=(
        "text condition (2B, L, D) -> latent (B, c, t, h, w): a guided sampling loop over a denoiser and a "
        "scheduler bound as components"
    ),
    inputs=("condition",),
    outputs=("latent",),
    learned=False,
    contributed_by="sora-diffusers",
)

PROMPT_PAIRS = KindSpec(
    name="prompt_pairs",
    description="prompts (B) -> texts (2B): the prompts, then a negative prompt for each, for guidance",
    inputs=("prompt",),
    outputs=("text",),
    learned=False,
    contributed_by="sora-diffusers",
)


@hookimpl
def sora_register_kinds() -> list[KindSpec]:
    """The kinds sora-diffusers contributes."""
    return [GUIDED_SAMPLER, PROMPT_PAIRS]


@hookimpl
def sora_register_importers() -> list[Any]:
    """``diffusers``: a spec from a Wan, CogVideoX or LTX-Video folder (or its Hugging Face cache snapshot)."""
    from sora_diffusers.importer import DiffusersImporter

    return [DiffusersImporter()]
