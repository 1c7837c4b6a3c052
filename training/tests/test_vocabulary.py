"""The word list sora-dit ships for object-prompts' known_words (t2v) is the training captions' words, and the
question answerer's refusals never catch a wording its head was trained or checked on."""

from __future__ import annotations

import torch
from sora_dit.object_prompts import ObjectPrompts
from sora_synth.lexicon import PARAPHRASE_COLOURS, PARAPHRASE_SHAPES
from sora_understand.question_answerer import unsupported_kind

from training import vocabulary
from training.latent_cache import cache_scenes, cached_batch
from training.t2v_objective import caption_batch
from training.train_qa import DEV_WORDINGS, WORDINGS, write_questions


def test_the_shipped_list_is_the_one_the_training_vocabulary_gives() -> None:
    assert vocabulary.SHIPPED.read_text(encoding="utf-8") == vocabulary.shipped_text()
    assert vocabulary.main(["--check"]) == 0


def test_every_word_of_sampled_training_captions_is_known() -> None:
    prompts = ObjectPrompts(known_words="t2v")
    captions: list[str] = []
    for step in range(40):  # with and without the training-only synonyms, fresh scenes and cached ones
        captions += caption_batch(0, step, 16, synonym_rate=1.0 if step % 2 else 0.2)[1]
    scenes = cache_scenes(0, 64)
    for step in range(10):
        captions += cached_batch(0, step, 16, scenes, torch.zeros(64, 1), synonym_rate=0.5)[1]
    unknown = {c: prompts.unknown_words(c) for c in captions if prompts.unknown_words(c)}
    assert not unknown


def test_evaluation_only_paraphrase_words_are_not_known() -> None:
    prompts = ObjectPrompts(known_words="t2v")
    for table in (PARAPHRASE_COLOURS, PARAPHRASE_SHAPES):
        for words in table.values():
            for word in words:
                assert prompts.unknown_words(f"a {word} moving right") == [word]


def test_no_question_the_kind_head_was_trained_or_checked_on_is_refused() -> None:
    for wordings in (WORDINGS, DEV_WORDINGS):
        texts, _ = write_questions(wordings, 600, 3)
        refused = {t: unsupported_kind(t) for t in texts}
        assert not {t: why for t, why in refused.items() if why}
