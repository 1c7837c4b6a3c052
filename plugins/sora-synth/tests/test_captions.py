"""Captions and the prompt parser: varied phrasing, round trips, evaluation-only paraphrases, clear errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sora_synth.captions import TEMPLATES, PromptError, caption, paraphrase, parse_prompt
from sora_synth.lexicon import (
    PARAPHRASE_BACKGROUNDS,
    PARAPHRASE_COLOURS,
    PARAPHRASE_MOTIONS,
    PARAPHRASE_SHAPES,
    PARAPHRASE_SIZES,
)
from sora_synth.scene import Scene, sample_scene
from sora_synth.vocabulary import ObjectAttributes


def sampled(seed: int, n: int) -> list[Scene]:
    rng = np.random.default_rng(seed)
    return [sample_scene(rng) for _ in range(n)]


def agrees(text: str, scene: Scene) -> bool:
    spec = parse_prompt(text)
    if spec.count != scene.count or spec.background not in (None, scene.background):
        return False
    return all(
        (got.colour, got.shape, got.motion) == (want.colour, want.shape, want.motion) and got.size in (None, want.size)
        for got, want in zip(spec.objects, scene.attributes, strict=True)
    )


def test_captions_are_deterministic_and_varied() -> None:
    scene = sampled(0, 1)[0]
    assert caption(scene, np.random.default_rng(3)) == caption(scene, np.random.default_rng(3))
    rng = np.random.default_rng(4)
    texts = {caption(scene, rng).text for _ in range(60)}
    assert len(texts) >= 30
    used = {caption(s, rng).template for s in sampled(1, 600)}
    assert used == set(TEMPLATES)


def test_every_caption_parses_back_to_its_scene() -> None:
    rng = np.random.default_rng(5)
    for scene in sampled(6, 3000):
        text = caption(scene, rng).text
        assert agrees(text, scene), (text, scene.attributes, parse_prompt(text))


def test_every_paraphrase_parses_back_to_its_scene() -> None:
    rng = np.random.default_rng(7)
    for scene in sampled(8, 1500):
        text = paraphrase(scene.attributes, rng, background=scene.background if rng.random() < 0.3 else None)
        assert agrees(text, scene), (text, scene.attributes, parse_prompt(text))


def paraphrase_words() -> set[str]:
    tables = (PARAPHRASE_COLOURS, PARAPHRASE_SHAPES, PARAPHRASE_SIZES, PARAPHRASE_BACKGROUNDS, PARAPHRASE_MOTIONS)
    phrases = {phrase for table in tables for options in table.values() for phrase in options}
    words = {w for p in phrases for w in p.split()}
    return words - {"to", "and", "at"}  # glue inside "to and fro", "at rest"


def test_training_vocabulary_never_uses_a_paraphrase_word() -> None:
    rng = np.random.default_rng(9)
    seen = {w for scene in sampled(10, 3000) for w in re.findall(r"[a-z]+", caption(scene, rng).text.lower())}
    assert not seen & paraphrase_words()
    assert {"crimson", "disc", "rightwards", "azure", "box"} <= paraphrase_words()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a red circle moving right", [("red", "circle", "right", None)]),
        ("a small red ball slides to the right", [("red", "circle", "right", "small")]),
        ("a crimson disc gliding rightwards", [("red", "circle", "right", None)]),
        ("an azure box ascending", [("blue", "square", "up", None)]),
        ("A huge golden pyramid, motionless.", [("yellow", "triangle", "still", "large")]),
        (
            "a rising red ball and a falling blue square",
            [("red", "circle", "up", None), ("blue", "square", "down", None)],
        ),
        (
            "two objects: a blue square moving up and a yellow triangle staying still",
            [("blue", "square", "up", None), ("yellow", "triangle", "still", None)],
        ),
        (
            "a teal orb swelling beside a violet cube drifting westward",
            [("cyan", "circle", "growing", None), ("purple", "square", "left", None)],
        ),
        ("something red moving left", [("red", None, "left", None)]),
        ("a shiny big green thing", [("green", None, None, "large")]),
        ("two white triangles", [("white", "triangle", None, None)] * 2),
        ("a blue square that does not move", [("blue", "square", "still", None)]),
        ("an orange dot that bounces back and forth", [("orange", "circle", "bouncing", None)]),
        ("the cyan block gets bigger", [("cyan", "square", "growing", None)]),
    ],
)
def test_parse_examples(text: str, expected: list[tuple[str | None, ...]]) -> None:
    spec = parse_prompt(text)
    assert [(o.colour, o.shape, o.motion, o.size) for o in spec.objects] == expected
    assert spec.count == len(expected)


def test_background_words_and_unknown_words() -> None:
    spec = parse_prompt("a purple ball falling on a black background")
    assert spec.background == "black" and spec.objects == (ObjectAttributes("purple", "circle", "down"),)
    spec = parse_prompt("footage of a lime crate against a midnight backdrop, sparkling wildly")
    assert spec.background == "navy" and spec.objects == (ObjectAttributes("green", "square"),)
    assert "sparkling" in spec.unknown_words and "wildly" in spec.unknown_words
    # a stated number with fewer objects described leaves the others unknown
    spec = parse_prompt("two shapes: a red circle")
    assert spec.count == 2 and spec.objects[1] == ObjectAttributes()


def test_a_prompt_with_nothing_recognisable_is_a_clear_error() -> None:
    with pytest.raises(PromptError) as caught:
        parse_prompt("a cat playing the piano at sunset")
    message = str(caught.value)
    assert "'a cat playing the piano at sunset'" in message and "names no colour" in message
    assert "hint:" in message and "red circle moving right" in message
    with pytest.raises(PromptError, match="must be a string"):
        parse_prompt(None)  # type: ignore[arg-type]
    two = [ObjectAttributes("red", "circle", "left"), ObjectAttributes("blue", "square", "up")]
    with pytest.raises(PromptError, match="no caption template for 2"):
        caption(two, np.random.default_rng(0), templates=["one/np"])
    with pytest.raises(PromptError, match=r"cannot caption the red object \(left\): its shape is not given"):
        caption([ObjectAttributes(colour="red", motion="left")], np.random.default_rng(0), templates=["one/np"])
    with pytest.raises(PromptError, match="names the background"):
        caption(two, np.random.default_rng(0), templates=["two/on-bg"])
