"""``clip-evaluator``: a weightless particle that scores videos against their prompts, per attribute.

It wraps :func:`sora_synth.evaluate.score` so a pipeline can judge what a generator made:
``video (B, 3, T, H, W)`` in ``[-1, 1]`` and ``prompt`` (B strings) -> ``scores (B, 4)``, the
columns colour, shape, motion and count, each 1 where the video agrees with the prompt and 0
where it does not.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field

from sora_core.config import ParticleConfig
from sora_core.errors import PortError
from sora_core.particle import WeightlessParticle
from sora_core.ports import PortSpec
from sora_synth.captions import PromptError, caption
from sora_synth.evaluate import ATTRIBUTES, score
from sora_synth.hooks import VIDEO_EVALUATOR
from sora_synth.scene import render_tensor, sample_scene


class ClipEvaluatorConfig(ParticleConfig):
    """What to do with prompts the parser cannot read and attributes a prompt does not state."""

    on_unparseable: Literal["zero", "raise"] = Field(
        "zero", description="a prompt naming no known attribute: score 0 on every attribute, or raise"
    )
    not_applicable: float = Field(
        1.0, ge=0.0, le=1.0, description="the score of an attribute the prompt does not state"
    )


class ClipEvaluator(WeightlessParticle):
    """Scores each video against its prompt from pixels: colour, shape, motion, object count (1 or 0 each)."""

    kind: ClassVar[str] = VIDEO_EVALUATOR.name
    Config = ClipEvaluatorConfig
    config: ClipEvaluatorConfig
    description = "video + prompt -> per-attribute agreement (colour, shape, motion, count), judged from pixels"

    def input_ports(self) -> dict[str, PortSpec]:
        return {
            "video": PortSpec("float32", "B C=3 T H W", description="RGB videos in [-1, 1]"),
            "prompt": PortSpec("str", "B", description="the prompt each video was made for"),
        }

    def output_ports(self) -> dict[str, PortSpec]:
        return {
            "scores": PortSpec(
                "float32", "B 4", description="per video: " + ", ".join(ATTRIBUTES) + " (1 agrees, 0 does not)"
            )
        }

    @classmethod
    def example_inputs(cls, config: ClipEvaluatorConfig, batch: int, generator: torch.Generator) -> dict[str, Any]:
        """Rendered synthetic clips and their captions."""
        rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
        scenes = [sample_scene(rng) for _ in range(batch)]
        return {
            "video": torch.stack([render_tensor(s) for s in scenes]),
            "prompt": [caption(s, rng).text for s in scenes],
        }

    def forward(self, video: torch.Tensor, prompt: Any) -> dict[str, torch.Tensor]:
        label = self.registered_name or self.display_name()
        if isinstance(prompt, str):
            prompt = [prompt]
        if not isinstance(video, torch.Tensor) or video.dim() != 5 or video.shape[1] != 3:
            shape = tuple(video.shape) if isinstance(video, torch.Tensor) else type(video).__name__
            raise PortError(
                f"{label}: input 'video' must be a tensor (B, 3, T, H, W), got {shape}",
                "pass decoded videos in [-1, 1], batch first",
            )
        if not isinstance(prompt, (list, tuple)) or len(prompt) != video.shape[0]:
            raise PortError(
                f"{label}: input 'prompt' must be {video.shape[0]} strings, one per video; got {prompt!r:.80}",
                "pass one prompt per video",
            )
        rows = []
        for item, text in zip(video, prompt, strict=True):
            try:
                rows.append(score(item, text).as_list(self.config.not_applicable))
            except PromptError as exc:
                if self.config.on_unparseable == "raise":
                    raise PromptError(f"{label}: {exc.message}", exc.hint) from None
                rows.append([0.0] * len(ATTRIBUTES))
        return {"scores": torch.tensor(rows, dtype=torch.float32).reshape(len(rows), len(ATTRIBUTES))}
