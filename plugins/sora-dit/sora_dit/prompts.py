"""``cfg-prompts``: each prompt, then as many unconditional prompts, for classifier-free guidance."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from sora_core.config import ParticleConfig
from sora_core.errors import PortError
from sora_core.particle import WeightlessParticle
from sora_core.ports import PortSpec
from sora_dit.hooks import PROMPT_BATCHER
from sora_dit.naming import label


class CFGPromptsConfig(ParticleConfig):
    """The prompt of the unconditional branch."""

    negative_prompt: str = Field("", description="text of the unconditional branch; '' is the empty prompt")


class CFGPrompts(WeightlessParticle):
    """``prompt`` (B strings) -> ``text`` (2B strings): the prompts, then ``negative_prompt`` B times.

    A text encoder then embeds both halves in one batch, and ``latent-sampler`` guides each
    prompt's velocity away from its unconditional twin. The empty prompt (the default)
    is the unconditional branch of classifier-free guidance.
    """

    kind: ClassVar[str] = PROMPT_BATCHER.name
    Config = CFGPromptsConfig
    config: CFGPromptsConfig
    description = "prompts (B) -> prompts followed by B unconditional (negative) prompts, for guidance"

    def input_ports(self) -> dict[str, PortSpec]:
        return {"prompt": PortSpec("str", "B", description="one prompt per video")}

    def output_ports(self) -> dict[str, PortSpec]:
        return {"text": PortSpec("str", "N", description="the B prompts, then B copies of negative_prompt")}

    def forward(self, prompt: Any) -> dict[str, list[str]]:
        prompts = self.checked_prompts(prompt)
        return {"text": prompts + [self.config.negative_prompt] * len(prompts)}

    def checked_prompts(self, prompt: Any) -> list[str]:
        """``prompt`` as a list of strings; a ``PortError`` naming the input for anything else."""
        if isinstance(prompt, str):
            prompt = [prompt]
        if not isinstance(prompt, (list, tuple)) or not prompt or not all(isinstance(p, str) for p in prompt):
            raise PortError(
                f"{label(self)}: input 'prompt' must be a string or a list of strings, got {prompt!r:.80}",
                'pass prompt=["a red circle moving right", ...]',
            )
        return list(prompt)
