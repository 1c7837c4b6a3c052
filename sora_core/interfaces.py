"""Abstract base classes for the built-in kinds (these import torch).

A learned particle subclasses one of these (all ``nn.Module`` s); a plugin that
contributes a new kind subclasses :class:`ModuleParticle` or
:class:`WeightlessParticle` and sets ``kind`` to its new kind's name.
"""

from __future__ import annotations

import itertools
from abc import abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, Literal

from torch import Tensor, nn

from sora_core.config import ParticleConfig
from sora_core.errors import ConfigError
from sora_core.particle import Particle, WeightlessParticle

PredictionType = Literal["velocity", "epsilon", "sample"]


class ModuleParticle(Particle, nn.Module):
    """A learned particle: a ``torch.nn.Module`` with particle metadata.

    Calling it runs ``forward(**inputs)`` through ``nn.Module.__call__`` so
    torch hooks, ``torch.compile`` and ``inference_mode`` work as usual.
    """

    def __init__(self, config: ParticleConfig | dict[str, Any] | None = None, **overrides: Any) -> None:
        Particle.__init__(self, config, **overrides)

    @abstractmethod
    def forward(self, **inputs: Any) -> dict[str, Any]: ...


class Tokenizer(WeightlessParticle):
    kind: ClassVar[str] = "tokenizer"


class TextEncoder(ModuleParticle):
    kind: ClassVar[str] = "text_encoder"


class ImageEncoder(ModuleParticle):
    kind: ClassVar[str] = "image_encoder"


class VideoEncoder(ModuleParticle):
    kind: ClassVar[str] = "video_encoder"


class VideoDecoder(ModuleParticle):
    kind: ClassVar[str] = "video_decoder"


class Patchifier(ModuleParticle):
    kind: ClassVar[str] = "patchifier"

    @abstractmethod
    def unpatchify(self, tokens: Tensor, positions: Tensor, latent_shape: tuple[int, ...]) -> Tensor:
        """Invert :meth:`forward`: patch tokens back to a latent of ``latent_shape``."""


class CrossModalAttention(ModuleParticle):
    kind: ClassVar[str] = "cross_modal_attention"


class Denoiser(ModuleParticle):
    kind: ClassVar[str] = "denoiser"
    #: What the network predicts; a scheduler must declare the same.
    prediction_type: ClassVar[PredictionType] = "velocity"


class Scheduler(WeightlessParticle):
    kind: ClassVar[str] = "scheduler"
    prediction_type: ClassVar[PredictionType] = "velocity"

    @abstractmethod
    def timesteps(self, num_steps: int) -> list[float]:
        """The timesteps of a sampling run of ``num_steps`` steps, first to last."""

    @abstractmethod
    def step(self, prediction: Tensor, t: float, t_next: float, sample: Tensor) -> Tensor:
        """Advance ``sample`` from time ``t`` to ``t_next`` given the model's ``prediction``."""

    def sample(
        self,
        model: Callable[[Tensor, float], Tensor],
        noise: Tensor,
        num_steps: int | None = None,
        progress: bool | None = None,
    ) -> Tensor:
        """Run a whole sampling loop from ``noise``: ``model(sample, t)`` returns the prediction at time ``t``.

        The base loop takes one :meth:`step` per pair of :meth:`timesteps`; samplers that
        evaluate the model more than once per step (Heun, multistep solvers) override it.
        ``num_steps`` defaults to the config's ``steps``; ``progress`` forces the bar on or off.
        """
        from sora_core.progress import track

        steps = num_steps if num_steps is not None else int(getattr(self.config, "steps", 0) or 0)
        if steps < 1:
            raise ConfigError(
                f"{self.registered_name or type(self).__qualname__}: a sampling run needs at least 1 step, got {steps}",
                "pass num_steps, or set the scheduler's `steps`",
            )
        times = self.timesteps(steps)
        sample = noise
        pairs = list(itertools.pairwise(times))
        for t, t_next in track(pairs, total=len(pairs), description="sampling", show=progress):
            sample = self.step(model(sample, t), t, t_next, sample)
        return sample


class VideoGenerator(ModuleParticle):
    kind: ClassVar[str] = "video_generator"


class PromptRewriter(WeightlessParticle):
    """``prompt`` (B strings) -> ``prompt`` (B strings in the words the generator was trained on) and ``report``
    (B JSON-able dicts: which words were read as what, which could not be placed)."""

    kind: ClassVar[str] = "prompt_rewriter"


class Captioner(ModuleParticle):
    kind: ClassVar[str] = "captioner"


class VideoQA(ModuleParticle):
    kind: ClassVar[str] = "video_qa"


class Summarizer(ModuleParticle):
    kind: ClassVar[str] = "summarizer"


#: The base class of each built-in kind, by kind name.
KIND_BASES: dict[str, type[Particle]] = {
    cls.kind: cls
    for cls in (
        Tokenizer,
        TextEncoder,
        ImageEncoder,
        VideoEncoder,
        VideoDecoder,
        Patchifier,
        CrossModalAttention,
        Denoiser,
        Scheduler,
        VideoGenerator,
        Captioner,
        VideoQA,
        Summarizer,
    )
}
