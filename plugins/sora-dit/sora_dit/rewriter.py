"""``prompt-rewriter``: prompts as people write them, rewritten in the words sora-dit's generator was trained on.

The counterpart of Sora's prompt extension and Wan's prompt extender for this domain: "crimson disc gliding
rightwards" becomes "a red circle moving right". Knowledge comes from outside the project: colour-name data
(the XKCD colour survey and CSS names, as matplotlib ships them) and the pretrained MiniLM sentence encoder,
which compares a word with the targets' plain descriptions (``vocabularies/t2v-targets.json``); no table of
other words for the targets is read. Each prompt also gets a report: which words were read as what, which
could not be placed, and what was decided for it (how many objects are drawn). Words it cannot place are a
:class:`~sora_core.errors.SoraWarning`; a prompt with no object the generator knows is a
:class:`~sora_core.errors.PromptError` unless ``allow_unknown`` is set (then it is passed on unchanged).
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

from pydantic import Field

from sora_core.config import ParticleConfig
from sora_core.errors import PromptError, SoraWarning
from sora_core.interfaces import PromptRewriter
from sora_core.ports import PortSpec
from sora_dit.naming import label
from sora_dit.prompts import prompt_list
from sora_dit.rewriting.matcher import SentenceMatcher
from sora_dit.rewriting.rewrite import Rewriter, Thresholds
from sora_dit.rewriting.targets import read_targets

__all__ = ["EmbeddingPromptRewriter", "EmbeddingPromptRewriterConfig"]


class EmbeddingPromptRewriterConfig(ParticleConfig):
    """What the prompts are mapped onto, with which encoder, how close a word must come, and what is refused."""

    enabled: bool = Field(True, description="false passes every prompt on unchanged (sora generate --no-rewrite)")
    targets: str = Field(
        "t2v", description="what the generator draws: 't2v' (sora-dit's default weights) or a JSON file like it"
    )
    text_encoder: str = Field(
        "sora-text:minilm-l6", description="the sentence encoder (a text_encoder particle with a 'pooled' output)"
    )
    allow_unknown: bool = Field(
        False,
        description="pass on a prompt with no object the generator knows (with a warning) instead of refusing it",
    )
    shape_similarity: float = Field(0.38, ge=0, le=1, description="least similarity of a noun to a shape")
    size_similarity: float = Field(0.55, ge=0, le=1, description="least similarity of an adjective to a size")
    motion_similarity: float = Field(
        0.30, ge=0, le=1, description="least similarity of a phrase, on its own, to the motion chosen for it"
    )
    colour_distance: float = Field(
        35.0, gt=0, description="most perceptual (CIELAB) distance of a named colour to a generator colour"
    )


class EmbeddingPromptRewriter(PromptRewriter):
    """``prompt`` (B) -> ``prompt`` (B, the generator's words) and ``report`` (B dicts)."""

    kind: ClassVar[str] = "prompt_rewriter"
    Config = EmbeddingPromptRewriterConfig
    config: EmbeddingPromptRewriterConfig
    description = "prompts as people write them -> the generator's words, by colour-name data and MiniLM"

    def __init__(self, config: EmbeddingPromptRewriterConfig | dict[str, Any] | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        cfg = self.config
        self._targets = read_targets(cfg.targets)  # a missing or malformed file fails when the pipeline is built
        thresholds = Thresholds(cfg.shape_similarity, cfg.size_similarity, cfg.motion_similarity, cfg.colour_distance)
        self._rewriter = Rewriter(self._targets, SentenceMatcher(cfg.text_encoder), thresholds)

    def input_ports(self) -> dict[str, PortSpec]:
        return {"prompt": PortSpec("str", "B", description="one prompt per video, as the user wrote it")}

    def output_ports(self) -> dict[str, PortSpec]:
        return {
            "prompt": PortSpec("str", "B", description="each prompt in the words the generator was trained on"),
            "report": PortSpec("any", "B", description="per prompt: what each word was read as, what was not placed"),
        }

    @classmethod
    def example_inputs(cls, config: EmbeddingPromptRewriterConfig, batch: int, generator: Any) -> dict[str, Any]:
        """Prompts of things the generator draws (a prompt of nothing it knows is refused, by design)."""
        prompts = ["a cherry ring drifting rightwards", "two blue squares", "a tiny green triangle sinking"]
        return {"prompt": [prompts[i % len(prompts)] for i in range(batch)]}

    def rewrite(self, prompt: str) -> dict[str, Any]:
        """One prompt's report (``report["rewritten"]`` is the text), without warnings or refusals."""
        if not self.config.enabled:
            return {"prompt": prompt, "rewritten": prompt, "changed": False, "read": [], "unplaced": [],
                    "objects": [], "background": None, "notes": ["rewriting is off"]}  # fmt: skip
        return self._rewriter.rewrite(prompt).report()

    def forward(self, prompt: Any) -> dict[str, Any]:
        reports = [self.rewrite(text) for text in prompt_list(self, prompt)]
        if self.config.enabled:
            for report in reports:
                self._speak(report)
        return {"prompt": [r["rewritten"] for r in reports], "report": reports}

    def _speak(self, report: dict[str, Any]) -> None:
        """Warn about what could not be placed; refuse a prompt with no known object unless allowed."""
        prompt, unplaced = report["prompt"], report["unplaced"]
        known = sum(obj["known"] for obj in report["objects"])
        if not known:
            what = f"none of its words ({', '.join(map(repr, unplaced))})" if unplaced else "no object"
            message = (
                f"{label(self)}: the prompt {prompt!r} names nothing the generator's weights were trained to draw: "
                f"{what} could be placed as a colour, shape or motion of targets {self.config.targets!r}"
            )
            if not self.config.allow_unknown:
                raise PromptError(
                    message,
                    "describe coloured circles, squares or triangles and how they move, or pass --allow-unknown "
                    "(allow_unknown: true) to generate from the prompt as written",
                )
            warnings.warn(message + "; passed on unchanged (allow_unknown)", SoraWarning, stacklevel=2)
            return
        if unplaced:
            warnings.warn(
                f"{label(self)}: {', '.join(map(repr, unplaced))} in the prompt {prompt!r} could not be placed as "
                "anything the generator draws; the clip will not show them",
                SoraWarning,
                stacklevel=2,
            )
        for note in report["notes"]:
            warnings.warn(f"{label(self)}: {note}", SoraWarning, stacklevel=2)
