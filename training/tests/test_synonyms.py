"""Training-only synonyms: never an evaluation paraphrase word, the same meaning, reproducible draws."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from sora_synth.lexicon import (
    PARAPHRASE_BACKGROUNDS,
    PARAPHRASE_COLOURS,
    PARAPHRASE_MOTION_PHRASES,
    PARAPHRASE_MOTIONS,
    PARAPHRASE_SHAPES,
    PARAPHRASE_SIZES,
    PARAPHRASE_VERBS,
    TRAIN_COLOURS,
)
from sora_synth.splits import training_example
from sora_text.minilm import load_tokenizer, model_directory

from training.latent_cache import cache_scenes, cached_batch
from training.synonyms import SYNONYMS, augment
from training.t2v_objective import caption_batch
from training.train_t2v import parse_args


def _words(phrases: set[str]) -> set[str]:
    return {w for p in phrases for w in re.findall(r"[a-z]+", p.lower())}


def _evaluation_words() -> set[str]:
    tables = (PARAPHRASE_COLOURS, PARAPHRASE_SHAPES, PARAPHRASE_SIZES, PARAPHRASE_BACKGROUNDS, PARAPHRASE_MOTIONS)
    phrases = {p for table in tables for options in table.values() for p in options}
    phrases |= set(PARAPHRASE_VERBS)
    phrases |= {p.replace("{verb}", "") for options in PARAPHRASE_MOTION_PHRASES.values() for p in options}
    return _words(phrases) - {"to", "and", "at", "that", "is"}  # glue that training captions use too


def test_no_synonym_is_an_evaluation_paraphrase_word() -> None:
    used = _words({s for options in SYNONYMS.values() for s in options})
    assert not used & _evaluation_words()
    assert {"crimson", "disc", "gliding", "bobbing", "stationary"} <= _evaluation_words()


def test_no_synonym_shares_a_word_piece_with_an_evaluation_paraphrase_word() -> None:
    """MiniLM reads word pieces: a synonym spelt "aquamarine" would teach it "aqua", a paraphrase word."""
    tokenizer = load_tokenizer(model_directory(), 32)

    def pieces(words: set[str]) -> set[str]:
        found = {piece for word in words for piece in tokenizer.encode(word).tokens[1:-1]}
        return {piece for piece in found if not piece.startswith("##") and len(piece) > 2}

    used = pieces(_words({s for options in SYNONYMS.values() for s in options}))
    trained = pieces(_words(set(SYNONYMS)))  # "left" of "leftwards" is a training caption's word already
    assert not (used - trained) & pieces(_evaluation_words())
    assert "aqua" in pieces(_evaluation_words())


def test_every_training_attribute_word_has_synonyms_of_its_own_attribute() -> None:
    for colour, words in TRAIN_COLOURS.items():
        for word in words:
            assert SYNONYMS[word] and not set(SYNONYMS[word]) & set(TRAIN_COLOURS), colour
    assert SYNONYMS["red"] != SYNONYMS["blue"]
    assert set(SYNONYMS["circle"]) == set(SYNONYMS["ball"])


def test_augment_swaps_every_attribute_word_at_rate_one_and_none_at_rate_zero() -> None:
    rng = np.random.default_rng(0)
    for i in range(200):
        text = training_example(np.random.default_rng([5, i]))[1].text
        assert augment(text, rng, 0.0) == text
        swapped = augment(text, rng, 1.0)
        spoken = {w for w in re.findall(r"[a-z]+", text.lower())}
        left = spoken & set(TRAIN_COLOURS) - {"white"}  # "white" may be a background word
        assert not left & set(re.findall(r"[a-z]+", swapped.lower())), (text, swapped)
        assert not re.search(r"\ba [aeiou]", swapped) and not re.search(r"\ban [^aeiou\W]", swapped), swapped


def test_augment_is_a_pure_function_of_the_generator() -> None:
    text = "A small red ball slides to the right, and a big blue block falls."
    first = augment(text, np.random.default_rng(3), 0.5)
    assert first == augment(text, np.random.default_rng(3), 0.5)


@pytest.mark.parametrize("rate", [0.0, 0.5])
def test_training_batches_draw_the_same_scenes_whatever_the_synonym_rate(rate: float) -> None:
    scenes = cache_scenes(0, 6)
    latents = torch.arange(6.0).view(6, 1, 1, 1, 1)
    plain_latent, plain = cached_batch(0, 4, 5, scenes, latents)
    latent, captions = cached_batch(0, 4, 5, scenes, latents, synonym_rate=rate)
    assert torch.equal(latent, plain_latent)
    assert (captions == plain) == (rate == 0.0)
    assert (
        caption_batch(0, 1, 2, frames=5, height=16, width=16, synonym_rate=rate)[1]
        == caption_batch(0, 1, 2, frames=5, height=16, width=16, synonym_rate=rate)[1]
    )


def test_a_synonym_rate_outside_the_unit_interval_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--out", str(tmp_path), "--vae", "default", "--synonym-rate", "1.5"])
