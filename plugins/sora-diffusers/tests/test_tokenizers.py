"""Tokenizer folders as real models ship them: a fast ``tokenizer.json``, or only a sentencepiece ``spiece.model``
(CogVideoX's T5 tokenizer). Both load offline and tokenize as transformers' own AutoTokenizer does."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

from sora_core import registry
from sora_core.errors import MissingWeightsError, UnsafeWeightsError

WORDS = [
    "a",
    "red",
    "blue",
    "green",
    "cat",
    "dog",
    "ball",
    "moving",
    "left",
    "right",
    "up",
    "down",
    "the",
    "of",
    "and",
    "with",
    "small",
    "big",
    "fast",
    "slow",
    "piano",
]


@pytest.fixture(scope="module")
def spiece_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A T5-style sentencepiece tokenizer trained here on a small corpus: spiece.model and tokenizer_config.json."""
    sentencepiece = pytest.importorskip("sentencepiece")
    root = tmp_path_factory.mktemp("spiece")
    rng = random.Random(0)
    corpus = root / "corpus.txt"
    corpus.write_text("\n".join(" ".join(rng.choice(WORDS) for _ in range(8)) for _ in range(2000)) + "\n")
    folder = root / "tokenizer"
    folder.mkdir()
    sentencepiece.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(folder / "spiece"),
        vocab_size=40,
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        model_type="unigram",
    )
    (folder / "spiece.vocab").unlink()
    config = {"tokenizer_class": "T5Tokenizer", "model_max_length": 226, "extra_ids": 0}
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return folder


def test_a_sentencepiece_only_folder_tokenizes_as_transformers_does(spiece_folder: Path) -> None:
    from transformers import AutoTokenizer

    particle = registry.load("sora-diffusers:t5-tokenizer", weights=spiece_folder, config={"max_length": 12})
    out = particle(text=["a red cat moving left", "blurry piano"])
    reference = AutoTokenizer.from_pretrained(str(spiece_folder), local_files_only=True)(
        ["a red cat moving left", "blurry piano"], padding="max_length", max_length=12, truncation=True
    )
    assert torch.equal(out["tokens"], torch.tensor(reference.input_ids))
    assert torch.equal(out["mask"], torch.tensor(reference.attention_mask, dtype=torch.bool))
    assert out["tokens"].shape == (2, 12)
    assert registry.get_class("sora-diffusers:t5-tokenizer").pretrained_files(spiece_folder) == [
        "tokenizer_config.json",
        "spiece.model",
    ]


def test_a_fast_tokenizer_folder_tokenizes_as_transformers_does(wan_folder: Path) -> None:
    from transformers import AutoTokenizer

    particle = registry.load("sora-diffusers:t5-tokenizer", weights=wan_folder / "tokenizer", config={"max_length": 8})
    ids = particle(text=["a red ball"])["tokens"]
    reference = AutoTokenizer.from_pretrained(str(wan_folder / "tokenizer"), local_files_only=True)(
        ["a red ball"], padding="max_length", max_length=8
    )
    assert ids.tolist() == reference.input_ids


def test_a_tokenizer_folder_without_a_vocabulary_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "tokenizer"
    folder.mkdir()
    (folder / "tokenizer_config.json").write_text('{"tokenizer_class": "T5Tokenizer"}')
    with pytest.raises(MissingWeightsError, match=r"neither tokenizer\.json nor spiece\.model"):
        registry.load("sora-diffusers:t5-tokenizer", weights=folder)


def test_a_pickled_vocabulary_is_refused(tmp_path: Path) -> None:
    import pickle

    folder = tmp_path / "tokenizer"
    folder.mkdir()
    (folder / "tokenizer_config.json").write_text('{"tokenizer_class": "T5Tokenizer"}')
    (folder / "spiece.model").write_bytes(pickle.dumps({"vocab": WORDS}))
    with pytest.raises(UnsafeWeightsError, match=r"spiece\.model is a pickle-format file"):
        registry.load("sora-diffusers:t5-tokenizer", weights=folder)
