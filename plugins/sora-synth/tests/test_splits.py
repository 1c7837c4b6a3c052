"""The held-out split: training never sees a held-out combination or phrasing; the fixed prompt lists."""

from __future__ import annotations

import hashlib
import itertools
import re

import numpy as np
import torch
from sora_synth.captions import TEMPLATES, parse_prompt
from sora_synth.lexicon import TRAIN_COLOURS, TRAIN_MOTIONS, TRAIN_SHAPES, TRAIN_SIZES
from sora_synth.splits import (
    HELDOUT_MARKERS,
    HELDOUT_TEMPLATES,
    HELDOUT_TRIPLES,
    TRAINING_TEMPLATES,
    collate,
    heldout_prompts,
    is_heldout,
    paraphrase_prompts,
    training_example,
    training_examples,
)
from sora_synth.vocabulary import COLOURS, MOTIONS, SHAPES


def test_the_split_is_what_the_documentation_says() -> None:
    assert len(HELDOUT_TRIPLES) == 16
    assert {c for c, _, _ in HELDOUT_TRIPLES} == set(COLOURS)
    assert {m for _, _, m in HELDOUT_TRIPLES} == set(MOTIONS)
    assert set(HELDOUT_TEMPLATES) <= set(TEMPLATES) and not set(HELDOUT_TEMPLATES) & set(TRAINING_TEMPLATES)
    assert {TEMPLATES[t].objects for t in HELDOUT_TEMPLATES} == {1, 2}
    for template in HELDOUT_TEMPLATES:
        assert any(marker in TEMPLATES[template].pattern for marker in HELDOUT_MARKERS)
    for template in TRAINING_TEMPLATES:
        assert not any(marker in TEMPLATES[template].pattern for marker in HELDOUT_MARKERS)


def test_every_pair_of_a_heldout_triple_is_still_trained_on() -> None:
    training = [t for t in itertools.product(COLOURS, SHAPES, MOTIONS) if t not in HELDOUT_TRIPLES]
    for colour, shape, motion in HELDOUT_TRIPLES:
        assert any(t[:2] == (colour, shape) for t in training)
        assert any(t[1:] == (shape, motion) for t in training)
        assert any((t[0], t[2]) == (colour, motion) for t in training)


def test_training_never_yields_a_heldout_combination_or_phrasing() -> None:
    rng = np.random.default_rng(0)
    triples, templates = set(), set()
    for _ in range(6000):
        scene, written = training_example(rng)
        triples.update(a.triple() for a in scene.attributes)
        templates.add(written.template)
        lowered = written.text.lower()
        assert not any(marker in lowered for marker in HELDOUT_MARKERS), written.text
    assert not triples & HELDOUT_TRIPLES
    assert len(triples) == len(COLOURS) * len(SHAPES) * len(MOTIONS) - len(HELDOUT_TRIPLES)  # all others occur
    assert templates == set(TRAINING_TEMPLATES)


def test_the_dataset_stream_excludes_them_too_and_is_deterministic() -> None:
    stream = iter(training_examples(3))
    again = iter(training_examples(3))
    other = iter(training_examples(4))
    for _ in range(150):
        video, text, scene = next(stream)
        video2, text2, scene2 = next(again)
        assert torch.equal(video, video2) and text == text2 and scene == scene2
        assert video.shape == (3, 9, 64, 64) and video.dtype == torch.float32
        assert not any(is_heldout(a) for a in scene.attributes)
        assert not any(marker in text.lower() for marker in HELDOUT_MARKERS)
    assert [next(other)[1] for _ in range(5)] != [next(stream)[1] for _ in range(5)]


def test_dataloader_batches_and_workers() -> None:
    loader = torch.utils.data.DataLoader(
        training_examples(0, frames=5, height=32, width=48), batch_size=4, collate_fn=collate
    )
    videos, captions, scenes = next(iter(loader))
    assert videos.shape == (4, 3, 5, 32, 48) and len(captions) == len(scenes) == 4
    with_workers = torch.utils.data.DataLoader(training_examples(0), batch_size=2, collate_fn=collate, num_workers=2)
    first = [b[1] for b, _ in zip(with_workers, range(3), strict=False)]
    second = [b[1] for b, _ in zip(with_workers, range(3), strict=False)]
    assert first == second
    assert len({c for batch in first for c in batch}) == 6  # the two workers draw different examples


def caption_words() -> set[str]:
    """Every attribute word training captions use (colours, shapes, sizes, motion phrases)."""
    words = {w for table in (TRAIN_COLOURS, TRAIN_SHAPES, TRAIN_SIZES) for ws in table.values() for w in ws}
    words |= {w + "s" for ws in TRAIN_SHAPES.values() for w in ws}
    for said in TRAIN_MOTIONS.values():
        for phrase in (*said.ing, *said.verb, *said.adjective):
            words |= set(phrase.split())
    return words - {"to", "the", "that", "is", "not", "does", "and", "back"}


def test_heldout_prompts_are_fixed_and_held_out() -> None:
    prompts = heldout_prompts()
    assert len(prompts) == 72 and heldout_prompts() is prompts
    groups = {g: [p for p in prompts if p.group == g] for g in ("combination", "both", "phrasing", "two-objects")}
    assert {g: len(ps) for g, ps in groups.items()} == {
        "combination": 16,
        "both": 16,
        "phrasing": 16,
        "two-objects": 24,
    }
    assert {p.objects[0].triple() for p in groups["combination"]} == HELDOUT_TRIPLES
    assert {p.objects[0].triple() for p in groups["both"]} == HELDOUT_TRIPLES
    for prompt in prompts:
        unseen_combination = any(is_heldout(o) for o in prompt.objects)
        unseen_phrasing = prompt.template in HELDOUT_TEMPLATES
        assert unseen_combination or unseen_phrasing
        assert unseen_combination == (prompt.group != "phrasing")
        if prompt.group != "two-objects":
            assert unseen_phrasing == (prompt.group in ("both", "phrasing"))
        spec = parse_prompt(prompt.text)
        assert [o.triple() for o in spec.objects] == [o.triple() for o in prompt.objects], prompt.text
    assert {len(p.objects) for p in groups["two-objects"]} == {2}
    assert sum(p.template in HELDOUT_TEMPLATES for p in groups["two-objects"]) == 12
    digest = hashlib.sha256("\n".join(p.text for p in prompts).encode()).hexdigest()
    assert digest == PINNED["heldout"], "the held-out prompts changed: update PINNED only on purpose"


def test_paraphrase_prompts_use_only_evaluation_words() -> None:
    prompts = paraphrase_prompts()
    assert len(prompts) == 40 and {len(p.objects) for p in prompts} == {1, 2}
    banned = caption_words()
    for prompt in prompts:
        words = set(re.findall(r"[a-z]+", prompt.text.lower()))
        assert not words & banned, (prompt.text, words & banned)
        spec = parse_prompt(prompt.text)
        assert [o.triple() for o in spec.objects] == [o.triple() for o in prompt.objects], prompt.text
    digest = hashlib.sha256("\n".join(p.text for p in prompts).encode()).hexdigest()
    assert digest == PINNED["paraphrase"], "the paraphrase prompts changed: update PINNED only on purpose"


def test_a_prompt_renders_ground_truth_with_its_attributes() -> None:
    rng = np.random.default_rng(0)
    for prompt in heldout_prompts()[::7]:
        scene = prompt.scene(rng)
        assert scene.attributes == prompt.objects and scene.background == prompt.background


PINNED = {
    "heldout": "d241dbe65140cfbb8ff6f35418b8ce84b2a581e89bf1037216c82f1c2d4bc09d",
    "paraphrase": "1676c2ec7a8a566ac6eb8d1f8476101fa0af98ee39fa54843f6117dd97da1c58",
}
