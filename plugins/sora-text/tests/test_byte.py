"""Behaviour of the byte tokenizer and the byte-level transformer, reached by name through the registry."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from sora_core import registry
from sora_core.errors import ConfigError, PortError
from sora_core.interfaces import TextEncoder, Tokenizer
from sora_core.ports import PortSpec, connection_problems

TOKENIZER = "sora-text:byte-tokenizer"
TRANSFORMER = "sora-text:byte-transformer"
BOS, EOS, PAD, OFFSET = 1, 2, 0, 3


def tokenizer(**config: Any) -> Tokenizer:
    particle = registry.create(TOKENIZER, **config)
    assert isinstance(particle, Tokenizer)
    return particle


def transformer(seed: int = 0, **config: Any) -> TextEncoder:
    torch.manual_seed(seed)
    particle = registry.create(TRANSFORMER, **config)
    assert isinstance(particle, TextEncoder)
    return particle.eval()


def ids(text: str) -> list[int]:
    return [BOS, *(b + OFFSET for b in text.encode("utf-8")), EOS]


# --- the tokenizer ----------------------------------------------------------------------------------------------


def test_bytes_are_exact_surrounding_whitespace_stripped_and_padded_to_the_longest() -> None:
    out = tokenizer(pad_to_max_length=False)(text=["  Hi!\n", "héllo wörld", ""])
    assert out["tokens"].dtype == torch.int64 and out["mask"].dtype == torch.bool
    assert out["tokens"].shape == (3, len(ids("héllo wörld")))
    assert out["tokens"][0, :5].tolist() == ids("Hi!") == [BOS, ord("H") + 3, ord("i") + 3, ord("!") + 3, EOS]
    assert out["tokens"][1].tolist() == ids("héllo wörld")  # é and ö are two bytes each, case kept
    assert out["tokens"][2].tolist()[:2] == [BOS, EOS]  # an empty prompt is BOS, EOS
    assert out["mask"].sum(dim=1).tolist() == [5, len(ids("héllo wörld")), 2]
    assert (out["tokens"][~out["mask"]] == PAD).all()
    assert out["mask"][:, 0].all()  # right-padded: valid tokens first


def test_decode_gives_back_the_stripped_text() -> None:
    particle = tokenizer()
    texts = ["a cat on a piano 🎹", "  日本語のテキスト  ", ""]
    out = particle(text=texts)
    assert particle.decode(out["tokens"], out["mask"]) == [t.strip() for t in texts]


def test_long_text_is_cut_at_a_character_boundary_keeping_bos_and_eos() -> None:
    out = tokenizer(max_length=8)(text=["abcdefghijklmnop", "ééééé"])
    tokens = out["tokens"]
    assert tokens.shape == (2, 8)
    assert tokens[0].tolist() == ids("abcdef")
    # 6 bytes of room hold three two-byte characters: no character is split
    assert tokens[1].tolist() == ids("ééé") + [PAD] * (8 - len(ids("ééé")))
    # four-byte characters: room for 6 bytes holds one, not one and a half
    assert tokenizer(max_length=8, pad_to_max_length=False)(text=["🎹🎹"])["tokens"][0].tolist() == ids("🎹")


def test_by_default_l_is_max_length_whatever_the_batch() -> None:
    out = tokenizer(max_length=16)(text=["hi", "there"])
    assert out["tokens"].shape == out["mask"].shape == (2, 16)
    assert out["mask"].sum(dim=1).tolist() == [4, 7]
    assert tokenizer()(text=["hi"])["tokens"].shape == (1, 64)


def test_an_empty_batch_gives_empty_tensors() -> None:
    assert tokenizer()(text=[])["tokens"].shape == (0, 64)
    out = tokenizer(pad_to_max_length=False)(text=[])
    assert out["tokens"].shape == out["mask"].shape == (0, 2)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a single string", "got a single str"),
        (None, "got a NoneType"),
        (torch.zeros(2, 3), "got a Tensor"),
        (["fine", 3], "item 1 is a int"),
        ([b"bytes"], "item 0 is a bytes"),
        (["\ud800 lone surrogate"], "not valid Unicode"),
    ],
)
@pytest.mark.parametrize("name", [TOKENIZER, TRANSFORMER])
def test_anything_but_a_list_of_str_is_refused_naming_the_port(name: str, value: Any, expected: str) -> None:
    particle = registry.create(name)
    with pytest.raises(PortError) as caught:
        particle(text=value)
    assert expected in str(caught.value)
    assert name in str(caught.value)
    if "Unicode" not in expected:
        assert "'text'" in str(caught.value)


@pytest.mark.parametrize(
    ("name", "config", "field"),
    [
        (TOKENIZER, {"max_length": 1}, "max_length"),
        (TOKENIZER, {"max_length": "long"}, "max_length"),
        (TOKENIZER, {"lowercase": True}, "lowercase"),
        (TRANSFORMER, {"dim": 0}, "dim"),
        (TRANSFORMER, {"dropout": 1.0}, "dropout"),
        (TRANSFORMER, {"max_length": 1}, "max_length"),
        (TRANSFORMER, {"dim": 250, "heads": 4}, "divisible"),
    ],
)
def test_invalid_config_values_are_refused_naming_the_field(name: str, config: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        registry.create(name, **config)
    assert field in str(caught.value)


# --- the transformer --------------------------------------------------------------------------------------------


TEXTS = ["a red fox runs through fresh snow", "waves at sunset", "", "Ünïcödé and UPPER case!"]


def test_the_transformer_tokenises_as_the_tokenizer_does() -> None:
    encoder = transformer()
    reference = tokenizer()(text=TEXTS)
    tokens, mask = encoder.tokenize(TEXTS)
    assert torch.equal(tokens, reference["tokens"]) and torch.equal(mask, reference["mask"])
    with torch.no_grad():
        out = encoder(text=TEXTS)
    assert torch.equal(out["mask"], reference["mask"])


def test_outputs_are_zero_where_masked_and_pooled_is_the_masked_mean() -> None:
    with torch.no_grad():
        out = transformer()(text=TEXTS)
    embeddings, mask, pooled = out["embeddings"], out["mask"], out["pooled"]
    assert embeddings.shape == (4, 64, 256) and pooled.shape == (4, 256)
    assert embeddings.dtype == pooled.dtype == torch.float32
    assert (embeddings[~mask] == 0).all()
    assert (embeddings[mask].abs().sum(dim=-1) > 0).all()
    expected = embeddings.sum(dim=1) / mask.sum(dim=1, keepdim=True)
    torch.testing.assert_close(pooled, expected)
    assert torch.isfinite(embeddings).all()


def test_padding_never_changes_a_texts_outputs() -> None:
    """Each text encoded alone (padded to its own length) equals it beside longer texts, or padded to max_length."""
    encoder, padded = transformer(pad_to_max_length=False), transformer()
    with torch.no_grad():
        together, fixed = encoder(text=TEXTS), padded(text=TEXTS)
        assert together["embeddings"].shape == (4, len(ids(TEXTS[0])), 256)
        assert fixed["embeddings"].shape == (4, 64, 256)
        for i, text in enumerate(TEXTS):
            alone = encoder(text=[text])
            assert alone["mask"].all()
            n = int(alone["mask"].sum())
            for batch in (together, fixed):
                torch.testing.assert_close(batch["embeddings"][i, :n], alone["embeddings"][0, :n], atol=1e-5, rtol=1e-5)
                torch.testing.assert_close(batch["pooled"][i], alone["pooled"][0], atol=1e-5, rtol=1e-5)
                assert int(batch["mask"][i].sum()) == n


def test_an_over_long_text_is_truncated_to_max_length() -> None:
    with torch.no_grad():
        out = transformer(max_length=16, pad_to_max_length=False)(text=["x" * 500, "short"])
    assert out["embeddings"].shape == (2, 16, 256)
    assert out["mask"].sum(dim=1).tolist() == [16, 7]


def test_an_empty_batch_gives_empty_outputs() -> None:
    with torch.no_grad():
        out = transformer()(text=[])
    assert out["embeddings"].shape == (0, 64, 256) and out["pooled"].shape == (0, 256)


def test_initialisation_is_deterministic_under_a_seed() -> None:
    same = [transformer(seed=7).state_dict() for _ in range(2)]
    other = transformer(seed=8).state_dict()
    assert all(torch.equal(same[0][k], same[1][k]) for k in same[0])
    assert not torch.equal(same[0]["token_embedding.weight"], other["token_embedding.weight"])


def test_config_sizes_the_model_and_its_ports() -> None:
    encoder = transformer(dim=64, layers=2, heads=8, max_length=32)
    assert encoder.output_ports()["embeddings"].shape == "B L D=64"
    assert len(encoder.blocks) == 2 and encoder.position_embedding.weight.shape == (32, 64)
    with torch.no_grad():
        assert encoder(text=["hello"])["pooled"].shape == (1, 64)


def test_it_trains_every_parameter_and_dropout_acts_only_in_training() -> None:
    encoder = transformer(dim=32, layers=2, heads=2, dropout=0.5).train()
    out = encoder(text=["a red circle", "a blue square moving left"])
    out["pooled"].pow(2).sum().backward()
    assert all(p.grad is not None for p in encoder.parameters())
    torch.manual_seed(1)
    first = encoder(text=["a red circle"])["pooled"]
    second = encoder(text=["a red circle"])["pooled"]
    assert not torch.equal(first, second)
    encoder.eval()
    with torch.no_grad():
        assert torch.equal(encoder(text=["a red circle"])["pooled"], encoder(text=["a red circle"])["pooled"])


def test_save_and_load_through_the_registry(tmp_path: Any) -> None:
    encoder = transformer(seed=3, dim=64, heads=2, layers=1)
    encoder.save_pretrained(tmp_path / "byte")
    again = registry.load(TRANSFORMER, weights=tmp_path / "byte")
    assert again.config == encoder.config
    with torch.no_grad():
        assert torch.equal(again(text=TEXTS)["embeddings"], encoder(text=TEXTS)["embeddings"])


# --- spaces -----------------------------------------------------------------------------------------------------


def test_each_encoder_declares_its_own_space() -> None:
    spaces = registry.spaces()
    assert {"text/sora-byte-transformer@1", "text/minilm-l6@1", "tokens/sora-bytes@1"} <= set(spaces)
    byte_out = transformer().output_ports()["embeddings"]
    assert byte_out.space == "text/sora-byte-transformer@1"
    minilm_input = PortSpec("float32", "B L D=256", space="text/minilm-l6@1")
    problems = connection_problems(byte_out, minilm_input)
    assert problems == ["space differs: output is 'text/sora-byte-transformer@1', input expects 'text/minilm-l6@1'"]
    assert not connection_problems(byte_out, PortSpec("float32", "B L D", space="text/*"))
