"""The fixed held-out split, the infinite training stream, and the held-out and paraphrase prompt lists.

**Held out from training** (never in a training clip or caption):

- :data:`HELDOUT_TRIPLES`: 16 ``(colour, shape, motion)`` combinations, two per colour, every
  motion at least twice. No object of a training clip has one of them; each of their pairs
  (red+triangle, triangle+up, red+up, ...) still occurs in training, so they test composition.
- :data:`HELDOUT_TEMPLATES`: 5 sentence templates (3 for one object, 2 for two), whose wording
  ("in this scene, ...", "footage of ... against a ... backdrop", "the camera shows ...",
  "..., and meanwhile ...", "... alongside ...") no training caption uses.
- the evaluation-only words of :mod:`sora_synth.lexicon` (``PARAPHRASE_*``), used only by
  :func:`paraphrase_prompts`.

:func:`heldout_prompts` is a fixed list of 72 prompts built from a fixed seed: 16 held-out
triples in training phrasing (group ``combination``), the same 16 in held-out phrasing
(``both``), 16 training triples in held-out phrasing (``phrasing``), and 24 two-object prompts,
each with one held-out triple, half of them in held-out phrasing (``two-objects``).
:func:`paraphrase_prompts` is a fixed list of 40 prompts (24 with one object, 16 with two) in
evaluation-only words. A test pins both lists.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import torch

from sora_synth.captions import TEMPLATES, Caption, caption, paraphrase
from sora_synth.scene import Scene, render_tensor, sample_scene
from sora_synth.vocabulary import COLOURS, MOTIONS, SHAPES, ObjectAttributes

__all__ = [
    "HELDOUT_MARKERS",
    "HELDOUT_TEMPLATES",
    "HELDOUT_TRIPLES",
    "TRAINING_TEMPLATES",
    "Example",
    "HeldoutPrompt",
    "SynthDataset",
    "collate",
    "heldout_prompts",
    "is_heldout",
    "paraphrase_prompts",
    "training_example",
    "training_examples",
]

#: ``(colour, shape, motion)`` combinations no training clip contains.
HELDOUT_TRIPLES: frozenset[tuple[str, str, str]] = frozenset(
    {
        ("red", "triangle", "up"),
        ("red", "square", "bouncing"),
        ("green", "circle", "left"),
        ("green", "triangle", "growing"),
        ("blue", "square", "right"),
        ("blue", "circle", "still"),
        ("yellow", "triangle", "down"),
        ("yellow", "circle", "bouncing"),
        ("purple", "circle", "right"),
        ("purple", "square", "down"),
        ("cyan", "square", "left"),
        ("cyan", "triangle", "still"),
        ("orange", "circle", "up"),
        ("orange", "triangle", "left"),
        ("white", "square", "growing"),
        ("white", "triangle", "right"),
    }
)

#: Sentence templates no training caption uses.
HELDOUT_TEMPLATES: tuple[str, ...] = (
    "one/in-this-scene",
    "one/footage-backdrop",
    "one/camera-shows",
    "two/meanwhile",
    "two/footage-alongside",
)
#: The templates training captions are written from.
TRAINING_TEMPLATES: tuple[str, ...] = tuple(t for t in TEMPLATES if t not in HELDOUT_TEMPLATES)
#: Words that only held-out templates contain: no training caption has any of them.
HELDOUT_MARKERS: tuple[str, ...] = ("in this scene", "footage", "backdrop", "camera", "meanwhile", "alongside")


def is_heldout(attributes: ObjectAttributes | tuple[str | None, str | None, str | None]) -> bool:
    """Whether an object's ``(colour, shape, motion)`` is one of :data:`HELDOUT_TRIPLES`."""
    triple = attributes.triple() if isinstance(attributes, ObjectAttributes) else tuple(attributes)
    return triple in HELDOUT_TRIPLES


# --- the training stream -----------------------------------------------------------------------------------------


class Example(NamedTuple):
    """One training example: the clip ``(3, T, H, W)`` in ``[-1, 1]``, its caption, and its scene."""

    video: torch.Tensor
    caption: str
    scene: Scene


def training_example(rng: np.random.Generator, *, p_two: float = 0.4, aspect: float = 1.0) -> tuple[Scene, Caption]:
    """One training scene and its caption (with the template it came from), drawn from ``rng``."""
    scene = sample_scene(rng, exclude=HELDOUT_TRIPLES, p_two=p_two, aspect=aspect)
    return scene, caption(scene, rng, templates=TRAINING_TEMPLATES)


class SynthDataset(torch.utils.data.IterableDataset):
    """An endless, deterministic stream of training :class:`Example`\\ s, held-out triples and templates excluded.

    The stream depends on ``seed`` only; in a ``DataLoader`` with workers, worker ``i`` of ``n`` draws
    from its own generator seeded ``(seed, i, n)``, so a run is reproducible for a given number of
    workers. Batch with ``DataLoader(dataset, batch_size=B, collate_fn=collate)``.
    """

    def __init__(
        self, seed: int = 0, *, frames: int = 9, height: int = 64, width: int = 64, p_two: float = 0.4
    ) -> None:
        super().__init__()
        self.seed, self.frames, self.height, self.width, self.p_two = seed, frames, height, width, p_two

    def _generator(self) -> np.random.Generator:
        info = torch.utils.data.get_worker_info()
        if info is None or info.num_workers <= 1:
            return np.random.default_rng(self.seed)
        return np.random.default_rng([self.seed, info.id, info.num_workers])

    def __iter__(self) -> Iterator[Example]:
        rng = self._generator()
        aspect = self.width / self.height
        while True:
            scene, written = training_example(rng, p_two=self.p_two, aspect=aspect)
            yield Example(render_tensor(scene, self.frames, self.height, self.width), written.text, scene)


def training_examples(
    seed: int = 0, *, frames: int = 9, height: int = 64, width: int = 64, p_two: float = 0.4
) -> SynthDataset:
    """The training stream for ``seed``: iterate it for ``(video, caption, scene)`` without end."""
    return SynthDataset(seed, frames=frames, height=height, width=width, p_two=p_two)


def collate(examples: list[Example]) -> tuple[torch.Tensor, list[str], list[Scene]]:
    """Batch examples: videos stacked ``(B, 3, T, H, W)``, captions and scenes as lists."""
    return torch.stack([e.video for e in examples]), [e.caption for e in examples], [e.scene for e in examples]


# --- fixed evaluation prompts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeldoutPrompt:
    """A fixed evaluation prompt: its text, the attributes it was written for, and where it comes from.

    ``group`` is ``combination``, ``phrasing``, ``both``, ``two-objects`` or ``paraphrase``;
    ``template`` the caption template (``paraphrase`` for the evaluation-only wording).
    """

    text: str
    objects: tuple[ObjectAttributes, ...]
    background: str
    group: str
    template: str

    def scene(self, rng: np.random.Generator, aspect: float = 1.0) -> Scene:
        """A ground-truth scene for this prompt: its objects and background, drawn positions and speeds."""
        return sample_scene(rng, objects=self.objects, background=self.background, aspect=aspect)


HELDOUT_SEED = 20240601
PARAPHRASE_SEED = 20240602


def _training_triples() -> list[tuple[str, str, str]]:
    return [(c, s, m) for c in COLOURS for s in SHAPES for m in MOTIONS if (c, s, m) not in HELDOUT_TRIPLES]


def _prompt(
    rng: np.random.Generator, triples: list[tuple[str, str, str]], templates: tuple[str, ...], group: str
) -> HeldoutPrompt:
    wanted = [ObjectAttributes(colour=c, shape=s, motion=m) for c, s, m in triples]
    scene = sample_scene(rng, objects=wanted)
    written = caption(scene, rng, templates=templates)
    return HeldoutPrompt(written.text, scene.attributes, scene.background, group, written.template)


@lru_cache(maxsize=1)
def heldout_prompts() -> tuple[HeldoutPrompt, ...]:
    """The 72 fixed held-out prompts (see the module's docstring), in a fixed order."""
    rng = np.random.default_rng(HELDOUT_SEED)
    heldout = sorted(HELDOUT_TRIPLES)
    allowed = _training_triples()
    prompts = [_prompt(rng, [t], TRAINING_TEMPLATES, "combination") for t in heldout]
    prompts += [_prompt(rng, [t], HELDOUT_TEMPLATES, "both") for t in heldout]
    picks = rng.choice(len(allowed), size=16, replace=False)
    prompts += [_prompt(rng, [allowed[i]], HELDOUT_TEMPLATES, "phrasing") for i in picks]
    for n in range(24):
        first = heldout[n % len(heldout)]
        second = allowed[int(rng.integers(len(allowed)))]
        while second[:2] == first[:2]:
            second = allowed[int(rng.integers(len(allowed)))]
        pair = [first, second] if n % 2 else [second, first]
        templates = HELDOUT_TEMPLATES if n % 2 == 0 else TRAINING_TEMPLATES
        prompts.append(_prompt(rng, pair, templates, "two-objects"))
    return tuple(prompts)


@lru_cache(maxsize=1)
def paraphrase_prompts() -> tuple[HeldoutPrompt, ...]:
    """The 40 fixed paraphrase prompts: attribute words only from the evaluation-only vocabulary."""
    rng = np.random.default_rng(PARAPHRASE_SEED)
    prompts = []
    for n in range(40):
        scene = sample_scene(rng, count=1 if n < 24 else 2)
        background = scene.background if rng.random() < 0.3 else None
        text = paraphrase(scene.attributes, rng, background=background)
        prompts.append(HeldoutPrompt(text, scene.attributes, scene.background, "paraphrase", "paraphrase"))
    return tuple(prompts)
