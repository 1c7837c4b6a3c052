"""``question-answerer``: a question about a clip answered in words, from what the captioner sees.

It reuses two particles as components rather than learning its own: the ``captioner`` (a
``latent-captioner``, whose :meth:`describe` gives each object's colour, shape, size and motion) and the
``text_encoder`` (the pretrained MiniLM the ``t2v`` pipeline conditions on). What it learns is small: a
linear head on the question's pooled MiniLM embedding that tells its *kind* -- colour, shape, motion,
count, or whether something is there -- trained on many wordings of each kind (``training/train_qa.py``),
so it follows the meaning of a question rather than fixed words. The objects a question is about are
named by the captioner's own words in it, or their aliases ("ball" is a circle, "leftwards" is left); the
answer is read from the detections that match them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from sora_core.config import ParticleConfig
from sora_core.errors import PortError
from sora_core.interfaces import VideoQA
from sora_core.particle import Particle
from sora_core.ports import PortSpec

KINDS = ("colour", "shape", "motion", "count", "exists")
NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

_MOTION_VERB = r"(?:go|goes|going|gone|mov\w*|head\w*|travel\w*|drift\w*|slid\w*|fall\w*|ris\w*)"
#: Kinds of question the head was never trained to tell (it has no class for them, so it would give one of its
#: five anyway and the answer would be confidently wrong): what they ask about, and the wording that asks it.
UNSUPPORTED: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (what, re.compile(pattern, re.IGNORECASE))
    for what, pattern in (
        (
            "positions and relations between objects",
            r"\b(?:left|right)\s+of\b|\b(?:above|below|beneath|underneath|under|behind|between|beside|next\s+to|"
            r"near|nearest|closest|farthest|furthest|in\s+front\s+of|on\s+top\s+of|leftmost|rightmost|topmost|"
            r"position|located|location)\b|\b(?:in|at)\s+the\s+(?:top|bottom|corner|centre|center|middle)\b|"
            rf"\bwhere\s+(?:is|are)\b(?!.*\b{_MOTION_VERB}\b)",
        ),
        (
            "sizes",
            r"\b(?:what|which)\s+size\b|\bhow\s+(?:big|large|small|tall|wide)\b|\bsize\s+of\b|"
            r"\b(?:bigger|larger|smaller)\b",
        ),
        ("speed", r"\bhow\s+(?:fast|quickly|slowly)\b|\bspeed\b|\b(?:faster|slower)\b"),
        ("time and order", r"\bwhen\b|\bwhich\s+frame\b|\b(?:first|last|before|after)\b"),
        ("reasons and people", r"\bwhy\b|\bwho\b"),
    )
)


def unsupported_kind(question: str) -> tuple[str, str] | None:
    """``(what it asks about, the words that ask it)`` when ``question`` is of a kind the question answerer
    cannot answer (:data:`UNSUPPORTED`: positions, sizes, speed, time and order, reasons), else None."""
    for what, pattern in UNSUPPORTED:
        found = pattern.search(question)
        if found:
            return what, " ".join(found.group(0).split())
    return None


class QuestionAnswererConfig(ParticleConfig):
    """The text embedding it reads and the aliases of the captioner's words."""

    text_dim: int = Field(384, gt=0, description="width of the text encoder's pooled embedding")
    text_space: str = Field("text/minilm-l6@1", description="space tag of the text encoder it was trained on")
    aliases: dict[str, str] = Field(
        {
            "color": "colour",
            "ball": "circle",
            "disc": "circle",
            "disk": "circle",
            "dot": "circle",
            "orb": "circle",
            "box": "square",
            "block": "square",
            "cube": "square",
            "pyramid": "triangle",
            "wedge": "triangle",
            "cone": "triangle",
            "violet": "purple",
            "leftwards": "left",
            "rightwards": "right",
            "upwards": "up",
            "rising": "up",
            "rises": "up",
            "climbing": "up",
            "downwards": "down",
            "falling": "down",
            "falls": "down",
            "sinking": "down",
            "motionless": "still",
            "stationary": "still",
            "resting": "still",
            "bounces": "bouncing",
            "bounce": "bouncing",
            "grows": "growing",
            "grow": "growing",
            "expanding": "growing",
        },
        description="other words for the captioner's words (plurals ending in s are found without this)",
    )


class QuestionAnswerer(VideoQA):
    """``video`` ``(B, 3, T, H, W)`` + ``question`` (B texts) -> ``answer`` (B texts), through the ``captioner``
    and ``text_encoder`` components."""

    Config = QuestionAnswererConfig
    config: QuestionAnswererConfig
    description = "video + question -> answer in words: the captioner's detections, the question read by MiniLM"
    default_weights = "weights/question-answerer"

    def __init__(self, config: QuestionAnswererConfig | dict[str, Any] | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.kind_head = nn.Linear(self.config.text_dim, len(KINDS))

    @classmethod
    def component_kinds(cls) -> dict[str, str]:
        return {"captioner": "captioner", "text_encoder": "text_encoder"}

    def component_problems(self, components: Mapping[str, Particle]) -> list[str]:
        problems = []
        captioner = components.get("captioner")
        if captioner is not None and not callable(getattr(captioner, "describe", None)):
            problems.append(
                f"component 'captioner' ({captioner._label()}) has no describe(video): bind a latent-captioner"
            )
        encoder = components.get("text_encoder")
        pooled = encoder.output_ports().get("pooled") if encoder is not None else None
        if encoder is not None and (pooled is None or pooled.space not in (None, self.config.text_space)):
            problems.append(
                f"component 'text_encoder' ({encoder._label()}) does not make pooled embeddings in space "
                f"{self.config.text_space!r}, the one this question answerer was trained on: bind sora-text:minilm-l6"
            )
        return problems

    def input_ports(self) -> dict[str, PortSpec]:
        return {
            "video": PortSpec("float32", "B C=3 T H W", description="RGB clips in [-1, 1]"),
            "question": PortSpec("str", "B", description="one question per clip"),
        }

    def output_ports(self) -> dict[str, PortSpec]:
        return {"answer": PortSpec("str", "B", description="one answer per clip, in words")}

    @classmethod
    def example_components(cls, config: QuestionAnswererConfig | dict[str, Any] | None) -> dict[str, Particle]:
        from sora_core import registry

        captioner = registry.create("sora-understand:latent-captioner")
        captioner.bind_components({"encoder": registry.create("sora-vae:causal-vae-encoder")})
        return {"captioner": captioner, "text_encoder": registry.create("sora-text:minilm-l6")}

    @classmethod
    def example_inputs(cls, config: QuestionAnswererConfig, batch: int, generator: torch.Generator) -> dict[str, Any]:
        questions = ["how many objects are there?", "what colour is the circle?", "is there a red square?"]
        return {
            "video": torch.rand((batch, 3, 9, 64, 64), generator=generator) * 2 - 1,
            "question": [questions[i % len(questions)] for i in range(batch)],
        }

    def forward(self, video: Tensor, question: list[str]) -> dict[str, Any]:
        questions = list(question)
        if len(questions) != video.shape[0]:
            raise PortError(
                f"{self._label()}: {len(questions)} question(s) for {video.shape[0]} clip(s)",
                "ask one question per clip",
            )
        empty = [i for i, q in enumerate(questions) if not q.strip()]
        if empty:
            raise PortError(f"{self._label()}: question {empty[0]} is empty", 'ask e.g. "what colour is the circle?"')
        for index, text in enumerate(questions):  # before any work: a batch with one such question is refused
            self.check_supported(index, text)
        kinds = self.kinds(questions)
        described = self.component("captioner").describe(video)  # type: ignore[attr-defined]
        return {"answer": [self.answer(d, q, k) for d, q, k in zip(described, questions, kinds, strict=True)]}

    # --- reading the question -------------------------------------------------------------------------------

    def kinds(self, questions: list[str]) -> list[str]:
        """The kind of each question (``colour``, ``shape``, ``motion``, ``count`` or ``exists``)."""
        return [KINDS[int(i)] for i in self.kind_logits(self.embed(questions)).argmax(dim=1)]

    def unsupported(self, question: str) -> tuple[str, str] | None:
        """See :func:`unsupported_kind`."""
        return unsupported_kind(question)

    def check_supported(self, index: int, question: str) -> None:
        """Refuse (a ``PortError`` naming the question) one of a kind this answerer cannot answer, rather than
        answer it as if it were one of its five kinds (the head has no other class, so it would pick one)."""
        unsupported = self.unsupported(question)
        if unsupported is None:
            return
        what, words = unsupported
        raise PortError(
            f"{self._label()}: question {index} {question!r} asks about {what} ({words!r}), which this question "
            "answerer cannot answer; it answers questions about the colour, shape or motion of an object, how many "
            "there are and whether one is there",
            'ask e.g. "what colour is the circle?", "how many squares are there?" or "is there a red triangle?"',
        )

    def embed(self, questions: list[str]) -> Tensor:
        """The questions' pooled text embeddings ``(N, text_dim)``, unit length."""
        with torch.no_grad():
            pooled = self.component("text_encoder")(text=questions)["pooled"]
        return F.normalize(pooled.float(), dim=-1)

    def kind_logits(self, embeddings: Tensor) -> Tensor:
        """``(N, 5)`` logits over :data:`KINDS` from :meth:`embed`'s embeddings."""
        return self.kind_head(embeddings.to(self.kind_head.weight.dtype)).float()

    def mentioned(self, question: str) -> dict[str, str]:
        """The captioner's words the question names, by group (``colours``, ``shapes``, ``motions``)."""
        vocabulary = self.component("captioner").vocabulary()  # type: ignore[attr-defined]
        found: dict[str, str] = {}
        for raw in re.findall(r"[a-z]+", question.lower()):
            word = self.config.aliases.get(raw, raw)
            if word not in (w for g in ("colours", "shapes", "motions") for w in vocabulary[g]) and word.endswith("s"):
                word = self.config.aliases.get(word[:-1], word[:-1])
            for group in ("colours", "shapes", "motions"):
                if word in vocabulary[group]:
                    found.setdefault(group, word)
        return found

    # --- answering ------------------------------------------------------------------------------------------

    def answer(self, description: Any, question: str, kind: str) -> str:
        """The answer to ``question`` of ``kind`` about one clip's :class:`Description`."""
        named = self.mentioned(question)
        asked = {"colour": "colours", "shape": "shapes", "motion": "motions"}.get(kind)
        wanted = {group: word for group, word in named.items() if group != asked}
        matches = [obj for obj in description.objects if all(_word(obj, g) == w for g, w in wanted.items())]
        if kind == "exists":
            return "yes" if matches else "no"
        if kind == "count":
            return NUMBERS[len(matches)] if len(matches) < len(NUMBERS) else str(len(matches))
        if not matches:
            subject = " ".join(w for g in ("colours", "shapes") if (w := wanted.get(g))) or "object"
            return f"there is no {subject}"
        phrases = self.component("captioner").config.motion_phrases  # type: ignore[attr-defined]
        words = [_word(obj, asked) for obj in matches]
        if kind == "motion":
            words = [phrases.get(w, w) for w in words]
        return " and ".join(dict.fromkeys(words))


def _word(obj: Any, group: str | None) -> str:
    return {"colours": obj.colour, "shapes": obj.shape, "motions": obj.motion}.get(group or "", "")
