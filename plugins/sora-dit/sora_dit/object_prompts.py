"""``object-prompts``: each prompt split into one prompt per object (a layer), then the unconditional prompts.

The trained denoiser draws one object well and two objects badly: it binds colours and motions to the
wrong object and drops or copies objects. Split into layers, a prompt such as "a red circle moving left
and a blue square sitting still on a black background" becomes "a red circle moving left on a black
background" and "a blue square sitting still on a black background"; each layer is sampled on its own
and ``layer-compositor`` puts the layers' objects into one video.

Splitting is by wording only, so it works for words the splitter has never seen: a prompt is cut at a
conjunction (``and``, ``while``, ``beside``, ...) that is followed by a determiner (``a``, ``an``,
``the``, ...), so "bouncing back and forth" stays whole. A trailing "on a ... background" (or
"against a ... backdrop") belongs to every layer; a lead-in ending in a colon ("two objects:") is
dropped once the rest splits. A prompt that does not split is one layer.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, ClassVar

import torch
from pydantic import Field, field_validator

from sora_core.ports import PortSpec
from sora_dit.hooks import PROMPT_BATCHER
from sora_dit.prompts import CFGPrompts, CFGPromptsConfig

__all__ = ["ObjectPrompts", "ObjectPromptsConfig", "objects_asked", "split_objects", "split_scene"]

DEFAULT_CONJUNCTIONS: tuple[str, ...] = (
    "and meanwhile",
    "and also",
    "and",
    "while",
    "whilst",
    "alongside",
    "beside",
    "next to",
    "plus",
    "as well as",
    "together with",
)
DEFAULT_DETERMINERS: tuple[str, ...] = (
    *("a", "an", "the", "one", "another", "some", "several", "many"),
    *("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
)
DEFAULT_SCENE_NOUNS: tuple[str, ...] = ("background", "backdrop", "backgrounds")
_NUMBERS = {
    word: number
    for number, word in enumerate(
        ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
    )
}
_MANY = re.compile(r"\b(?:several|many|some|few|multiple|lots|group|bunch|crowd|number)\b", re.IGNORECASE)
_COUNT = re.compile(r"\b(\d+|" + "|".join(_NUMBERS) + r"|pair|couple)\b", re.IGNORECASE)


class ObjectPromptsConfig(CFGPromptsConfig):
    """How prompts are split into object layers (and, as for ``cfg-prompts``, the unconditional prompt)."""

    max_layers: int = Field(4, ge=1, description="most layers per prompt; the last one keeps the rest of the text")
    conjunctions: tuple[str, ...] = Field(
        DEFAULT_CONJUNCTIONS, description="words that join two objects' phrases (cut before a determiner only)"
    )
    determiners: tuple[str, ...] = Field(
        DEFAULT_DETERMINERS, description="words that start an object's phrase after a conjunction"
    )
    scene_nouns: tuple[str, ...] = Field(
        DEFAULT_SCENE_NOUNS,
        description="nouns of a trailing 'on/against a ... NOUN' phrase that describes the scene: kept on every layer",
    )

    @field_validator("conjunctions", "determiners", "scene_nouns")
    @classmethod
    def _words(cls, words: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(" ".join(w.lower().split()) for w in words)
        if not cleaned or any(not w or not re.fullmatch(r"[a-z' -]+", w) for w in cleaned):
            raise ValueError(f"must be a non-empty list of lower-case words, got {list(words)}")
        return cleaned


@lru_cache(maxsize=8)
def _patterns(
    conjunctions: tuple[str, ...], determiners: tuple[str, ...], scene_nouns: tuple[str, ...]
) -> tuple[re.Pattern[str], re.Pattern[str]]:
    def alternatives(words: tuple[str, ...]) -> str:  # longest first, so "and meanwhile" wins over "and"
        return "|".join(r"\s+".join(map(re.escape, w.split())) for w in sorted(words, key=len, reverse=True))

    cut = re.compile(
        rf"\s*,?\s*\b(?:{alternatives(conjunctions)})\b\s*,?\s+(?=(?:{alternatives(determiners)})\b)", re.IGNORECASE
    )
    scene = re.compile(
        rf"\s*,?\s+(?:on|against|over|in\s+front\s+of)\s+(?:a|an|the)\s+[^,;:]*?\b(?:{alternatives(scene_nouns)})\b"
        r"[\s.!]*$",
        re.IGNORECASE,
    )
    return cut, scene


def split_objects(text: str, config: ObjectPromptsConfig | None = None) -> list[str]:
    """``text`` as one prompt per object it describes (``[text]`` when it names one object, or none)."""
    cfg = config or ObjectPromptsConfig()
    if cfg.max_layers == 1:
        return [text]
    cut, scene = _patterns(cfg.conjunctions, cfg.determiners, cfg.scene_nouns)
    setting = scene.search(text)
    body = text[: setting.start()] if setting else text
    _, colon, rest = body.partition(":")
    for candidate in ((rest,) if colon else ()) + (body,):
        parts = [p.strip(" ,;.!") for p in cut.split(candidate, maxsplit=cfg.max_layers - 1)]
        parts = [p for p in parts if p]
        if len(parts) >= 2:
            suffix = setting.group(0).strip(" ,.!") if setting else ""
            return [f"{part} {suffix}".strip() for part in parts]
    return [text]


def split_scene(text: str, config: ObjectPromptsConfig | None = None) -> tuple[str, str]:
    """``text`` cut into its objects and a trailing scene phrase ("on a black background"; ``""`` if none)."""
    cfg = config or ObjectPromptsConfig()
    _, scene = _patterns(cfg.conjunctions, cfg.determiners, cfg.scene_nouns)
    setting = scene.search(text)
    return (text[: setting.start()], setting.group(0).strip(" ,.!")) if setting else (text, "")


def objects_asked(layer: str) -> int:
    """How many objects a layer's prompt asks for: a number word or digits in it ("two red balls": 2), 0 for an
    unspecified number ("several balls"), else 1."""
    if _MANY.search(layer):
        return 0
    counted = _COUNT.search(layer)
    if counted is None:
        return 1
    word = counted.group(1).lower()
    return 2 if word in ("pair", "couple") else int(word) if word.isdigit() else _NUMBERS[word]


class ObjectPrompts(CFGPrompts):
    """``prompt`` (B strings) -> ``text`` (N = 2L strings), ``layers`` (B) and ``objects`` (L): object layers.

    ``text`` holds the L layer prompts (prompt 0's layers first, in the prompt's order), then
    ``negative_prompt`` L times, as ``latent-sampler`` expects for guidance. ``layers[b]`` is how many
    layers prompt ``b`` became; ``layer-compositor`` uses it to put each prompt's layers back together.
    ``objects[l]`` is how many objects layer ``l`` asks for (see :func:`objects_asked`).
    """

    kind: ClassVar[str] = PROMPT_BATCHER.name
    Config = ObjectPromptsConfig
    config: ObjectPromptsConfig
    description = "prompts (B) -> one prompt per object (L layers) and L unconditional prompts, and layers per prompt"

    def output_ports(self) -> dict[str, PortSpec]:
        return {
            "text": PortSpec("str", "N", description="the L layer prompts, then L copies of negative_prompt"),
            "layers": PortSpec("int64", "B", description="how many layers each prompt was split into (sum L)"),
            "objects": PortSpec("int64", "L", description="objects each layer asks for (0: an unspecified number)"),
        }

    def structure_words(self) -> tuple[str, ...]:
        """The splitter's own words (conjunctions, determiners, the scene phrase's "against" and nouns): they shape
        layers, not pictures."""
        cfg = self.config
        return (*cfg.conjunctions, *cfg.determiners, "against", *cfg.scene_nouns)

    def forward(self, prompt: Any) -> dict[str, Any]:
        layers = [split_objects(text, self.config) for text in self.checked_prompts(prompt)]
        texts = [layer for split in layers for layer in split]
        return {
            "text": texts + [self.config.negative_prompt] * len(texts),
            "layers": torch.tensor([len(split) for split in layers], dtype=torch.int64),
            "objects": torch.tensor([objects_asked(layer) for layer in texts], dtype=torch.int64),
        }
