"""validate_paraphrases' vocabulary: a third one, and prompts that keep their scene's meaning."""

from __future__ import annotations

import re

from sora_synth.captions import parse_prompt

from training.synonyms import SYNONYMS
from training.tests.test_synonyms import _evaluation_words
from training.validate_paraphrases import DEV_WORDS, dev_prompts


def test_the_dev_words_are_neither_training_synonyms_nor_evaluation_paraphrases() -> None:
    dev = {w for options in DEV_WORDS.values() for w in options}
    synonyms = {w for options in SYNONYMS.values() for s in options for w in re.findall(r"[a-z]+", s)}
    assert not dev & synonyms and not dev & _evaluation_words() and not dev & set(SYNONYMS)


def test_prompts_are_reworded_and_scored_against_their_own_caption() -> None:
    pairs = dev_prompts(30)
    assert pairs == dev_prompts(30)
    dev = {w for options in DEV_WORDS.values() for w in options}
    for reworded, text in pairs:
        assert set(re.findall(r"[a-z]+", reworded.lower())) & dev, reworded
        assert not set(re.findall(r"[a-z]+", text.lower())) & dev
        assert parse_prompt(text).objects  # the evaluator can read what the clip is scored against
