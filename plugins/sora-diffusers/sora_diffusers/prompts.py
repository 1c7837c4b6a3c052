"""``negative-prompts``: each prompt, then the negative prompt for each, for classifier-free guidance."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from sora_core.config import ParticleConfig
from sora_core.errors import PortError
from sora_core.particle import WeightlessParticle
from sora_core.ports import PortSpec
from sora_diffusers.hooks import PROMPT_PAIRS


class NegativePromptsConfig(ParticleConfig):
    negative_prompt: str = Field("", description="what the videos should not show ('' is the unconditional prompt)")


class NegativePrompts(WeightlessParticle):
    """``prompt`` (B strings) -> ``text`` (2B): the prompts, then ``negative_prompt`` B times."""

    kind: ClassVar[str] = PROMPT_PAIRS.name
    Config = NegativePromptsConfig
    config: NegativePromptsConfig
    description = "prompts (B) -> the prompts, then B negative prompts, for classifier-free guidance"

    def input_ports(self) -> dict[str, PortSpec]:
        return {"prompt": PortSpec("str", "B", description="one prompt per video")}

    def output_ports(self) -> dict[str, PortSpec]:
        return {"text": PortSpec("str", "N", description="the B prompts, then B copies of negative_prompt")}

    def forward(self, prompt: Any) -> dict[str, list[str]]:
        if isinstance(prompt, str):
            prompt = [prompt]
        if not isinstance(prompt, (list, tuple)) or not prompt or not all(isinstance(p, str) for p in prompt):
            raise PortError(
                f"{self.registered_name or 'negative-prompts'}: input 'prompt' must be a string or a list of "
                f"strings, got {prompt!r:.80}",
                'pass prompt=["a cat playing piano", ...]',
            )
        return {"text": [*prompt, *[self.config.negative_prompt] * len(prompt)]}
