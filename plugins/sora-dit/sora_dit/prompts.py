"""``cfg-prompts``: each prompt, then as many unconditional prompts, for classifier-free guidance."""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

from pydantic import Field, field_validator

from sora_core.config import ParticleConfig
from sora_core.errors import PortError, SoraWarning
from sora_core.particle import WeightlessParticle
from sora_core.ports import PortSpec
from sora_dit.hooks import PROMPT_BATCHER
from sora_dit.naming import label
from sora_dit.words import known_stems, read_word_list, unknown_words


def prompt_list(particle: Any, prompt: Any) -> list[str]:
    """``prompt`` (a string or a non-empty list of strings) as a list; a ``PortError`` naming ``particle``'s input
    for anything else."""
    if isinstance(prompt, str):
        prompt = [prompt]
    if not isinstance(prompt, (list, tuple)) or not prompt or not all(isinstance(p, str) for p in prompt):
        raise PortError(
            f"{label(particle)}: input 'prompt' must be a string or a list of strings, got {prompt!r:.80}",
            'pass prompt=["a red circle moving right", ...]',
        )
    return list(prompt)


class CFGPromptsConfig(ParticleConfig):
    """The prompt of the unconditional branch, and the words the denoiser was trained on."""

    negative_prompt: str = Field("", description="text of the unconditional branch; '' is the empty prompt")
    known_words: str | None = Field(
        None,
        description="the words the text side was trained on: 't2v' (the captions of sora-dit's default denoiser "
        "weights, the list the t2v template names) or a file of one word per line; each other word of a prompt "
        "(inflected forms of known words, English function words and digits aside) raises a SoraWarning saying the "
        "clip will not show it; None checks nothing",
    )

    @field_validator("known_words")
    @classmethod
    def _known_words(cls, source: str | None) -> str | None:
        if source is not None and not source.strip():
            raise ValueError("must name a word list ('t2v' or a file), or be null")
        return source


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

    def __init__(self, config: CFGPromptsConfig | dict[str, Any] | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self._known: frozenset[str] | None = None
        if self.config.known_words is not None:  # a missing or empty list fails when the pipeline is built
            self._known = known_stems(read_word_list(self.config.known_words), self.structure_words())

    def input_ports(self) -> dict[str, PortSpec]:
        return {"prompt": PortSpec("str", "B", description="one prompt per video")}

    def output_ports(self) -> dict[str, PortSpec]:
        return {"text": PortSpec("str", "N", description="the B prompts, then B copies of negative_prompt")}

    def forward(self, prompt: Any) -> dict[str, list[str]]:
        prompts = self.checked_prompts(prompt)
        return {"text": prompts + [self.config.negative_prompt] * len(prompts)}

    def checked_prompts(self, prompt: Any) -> list[str]:
        """``prompt`` as a list of strings (see :func:`prompt_list`), each checked for unknown words."""
        prompts = prompt_list(self, prompt)
        for text in prompts:
            self.warn_unknown_words(text)
        return prompts

    # --- words the denoiser was never trained on -------------------------------------------------------------

    def structure_words(self) -> tuple[str, ...]:
        """Words this batcher reads as structure, known whatever the word list says (none here)."""
        return ()

    def unknown_words(self, text: str) -> list[str]:
        """The words of ``text`` outside ``known_words`` (empty when it is None)."""
        return [] if self._known is None else unknown_words(text, self._known)

    def warn_unknown_words(self, text: str) -> None:
        """A :class:`~sora_core.errors.SoraWarning` naming the words of ``text`` the text side was never trained
        on: the video is made, but it will not show them."""
        unknown = self.unknown_words(text)
        if not unknown:
            return
        shown = text if len(text) <= 80 else text[:77] + "..."
        warnings.warn(
            f"{label(self)}: {', '.join(repr(w) for w in unknown)} in the prompt {shown!r} "
            f"{'was' if len(unknown) == 1 else 'were'} never in a caption the text-to-video weights were trained on "
            f"(known_words: {self.config.known_words}); the clip will not show {'it' if len(unknown) == 1 else 'them'}",
            SoraWarning,
            stacklevel=4,
        )
