"""Behaviour of sora-seed's particles, reached by name through the registry as any user would."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from sora_core import registry
from sora_core.errors import ConfigError
from sora_core.interfaces import ModuleParticle

NAMES = {
    "text": "sora-seed:lstm-text-encoder",
    "decoder": "sora-seed:lstm-video-decoder",
    "attention": "sora-seed:additive-attention",
    "generator": "sora-seed:lstm-video-generator",
}


def create(role: str, **config: Any) -> ModuleParticle:
    torch.manual_seed(0)
    particle = registry.create(NAMES[role], **config)
    assert isinstance(particle, ModuleParticle)
    return particle.eval()


def test_the_plugin_is_listed_with_its_kind_and_spaces() -> None:
    found = {info.full_name: info.kind for info in registry.list(pattern="sora-seed:*")}
    assert found == {
        NAMES["text"]: "text_encoder",
        NAMES["decoder"]: "video_feature_decoder",
        NAMES["attention"]: "cross_modal_attention",
        NAMES["generator"]: "video_generator",
    }
    assert registry.kinds()["video_feature_decoder"].contributed_by == "sora-seed"
    assert {"text/seed-lstm@1", "video-features/seed-lstm@1", "video-features/seed@1"} <= set(registry.spaces())


@pytest.mark.parametrize(
    ("role", "port", "make"),
    [
        ("text", "token_embeddings", lambda: {"token_embeddings": torch.randn(4, 6, 512)}),
        ("decoder", "features", lambda: {"features": torch.randn(4, 6, 512)}),
        ("generator", "condition", lambda: {"condition": torch.randn(4, 6, 256)}),
    ],
)
def test_each_sample_depends_only_on_itself(role: str, port: str, make: Any) -> None:
    """The seed's LSTMs read batch-first tensors sequence-first, mixing samples; these must not."""
    particle = create(role)
    inputs = make()
    with torch.no_grad():
        before = particle(**inputs)
        for changed_item in (0, 2):
            perturbed = dict(inputs)
            perturbed[port] = inputs[port].clone()
            perturbed[port][changed_item] += 1.0
            after = particle(**perturbed)
            for name, value in before.items():
                others = [i for i in range(4) if i != changed_item]
                torch.testing.assert_close(after[name][others], value[others], msg=f"{name} mixes samples")
                if value.is_floating_point():  # the changed sample itself did change
                    assert not torch.equal(after[name][changed_item], value[changed_item])


def test_seed_example_shapes_through_the_four_particles() -> None:
    """The seed example: batch 16, sequence 10, 512 features in and (16, 10, 512) out, sizes corrected."""
    text_encoder, decoder, attention, generator = (create(r) for r in ("text", "decoder", "attention", "generator"))
    text_features, video_features = torch.randn(16, 10, 512), torch.randn(16, 10, 512)
    with torch.no_grad():
        text = text_encoder(token_embeddings=text_features)
        hidden = decoder(features=video_features)["hidden"]
        attended = attention(query=hidden, context=text["embeddings"], mask=text["mask"])
        video = generator(condition=attended["tokens"])["video"]
    assert text["embeddings"].shape == (16, 10, 256) and text["pooled"].shape == (16, 256)
    assert hidden.shape == (16, 10, 256)
    assert attended["tokens"].shape == (16, 10, 256) and attended["weights"].shape == (16, 10, 10)
    assert video.shape == (16, 10, 512)
    assert torch.isfinite(video).all()


def test_the_seed_decoder_size_bug_is_visible_in_the_ports() -> None:
    """hidden_size=512 (the seed's decoder) cannot feed a query of 256: the port specs say so."""
    from sora_core.ports import connection_problems

    decoder, attention = create("decoder", hidden_size=512), create("attention")
    problems = connection_problems(decoder.output_ports()["hidden"], attention.input_ports()["query"])
    assert any("512" in p and "256" in p for p in problems)
    assert connection_problems(create("decoder").output_ports()["hidden"], attention.input_ports()["query"]) == []


def test_attention_masked_tokens_get_zero_weight() -> None:
    attention = create("attention", query_size=8, context_size=6, attention_size=5)
    query, context = torch.randn(3, 4, 8), torch.randn(3, 5, 6)
    mask = torch.tensor([[True, True, False, True, False], [True] * 5, [False] * 5])
    with torch.no_grad():
        out = attention(query=query, context=context, mask=mask)
    weights = out["weights"]
    assert torch.all(weights[0][:, [2, 4]] == 0)
    torch.testing.assert_close(weights[:2].sum(-1), torch.ones(2, 4))
    # masked tokens do not matter: changing them leaves the output as it was
    changed = context.clone()
    changed[0, [2, 4]] = 100.0
    with torch.no_grad():
        again = attention(query=query, context=changed, mask=mask)
    torch.testing.assert_close(again["tokens"][0], out["tokens"][0])


def test_attention_all_masked_row_gives_zeros_not_nan() -> None:
    attention = create("attention", query_size=8, context_size=6, attention_size=5)
    with torch.no_grad():
        out = attention(query=torch.randn(2, 3, 8), context=torch.randn(2, 4, 6), mask=torch.zeros(2, 4, dtype=bool))
    assert torch.isfinite(out["tokens"]).all() and torch.isfinite(out["weights"]).all()
    assert torch.all(out["tokens"] == 0) and torch.all(out["weights"] == 0)


def test_text_encoder_mask_zeroes_padding_and_pools_the_valid_mean() -> None:
    encoder = create("text", input_size=8, hidden_size=4)
    tokens = torch.randn(2, 5, 8)
    mask = torch.tensor([[True, True, True, False, False], [True] * 5])
    with torch.no_grad():
        out = encoder(token_embeddings=tokens, mask=mask)
        alone = encoder(token_embeddings=tokens[:1, :3])
    assert torch.all(out["embeddings"][0, 3:] == 0)
    torch.testing.assert_close(out["embeddings"][0, :3], alone["embeddings"][0])
    torch.testing.assert_close(out["pooled"][0], alone["embeddings"][0].mean(0))
    assert torch.equal(out["mask"], mask)


@pytest.mark.parametrize("role", sorted(NAMES))
def test_invalid_config_names_the_field(role: str) -> None:
    field = "attention_size" if role == "attention" else "hidden_size"
    with pytest.raises(ConfigError) as caught:
        registry.create(NAMES[role], **{field: 0})
    assert repr(field) in caught.value.message
    assert NAMES[role] in caught.value.message


def test_sizes_come_from_the_config() -> None:
    generator = create("generator", input_size=12, hidden_size=7, output_size=5, num_layers=2)
    assert generator.input_ports()["condition"].shape == "B T C=12"
    assert generator.output_ports()["video"].shape == "B T F=5"
    with torch.no_grad():
        assert generator(condition=torch.randn(2, 3, 12))["video"].shape == (2, 3, 5)
