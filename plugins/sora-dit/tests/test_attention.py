"""The three cross-attentions: shared ports and config, masking, no NaN, their own maths."""

from __future__ import annotations

import math

import pytest
import torch

from sora_core import registry
from sora_core.errors import ConfigError

NAMES = [
    "sora-dit:multihead-cross-attention",
    "sora-dit:gated-cross-attention",
    "sora-dit:linear-cross-attention",
]
SIZES = {"query_size": 16, "context_size": 12, "heads": 4}


def create(name: str, **config: object) -> torch.nn.Module:
    torch.manual_seed(0)
    attention = registry.create(name, **{**SIZES, **config})
    if name.endswith("gated-cross-attention"):
        with torch.no_grad():
            attention.gate.fill_(0.5)  # open, so the attention's values show
    return attention.eval()


def inputs(batch: int = 2, n: int = 5, length: int = 7) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return {
        "query": torch.randn(batch, n, SIZES["query_size"], generator=generator),
        "context": torch.randn(batch, length, SIZES["context_size"], generator=generator),
    }


@pytest.mark.parametrize("name", NAMES)
def test_same_ports_and_config_fields(name: str) -> None:
    attention = create(name)
    assert attention.kind == "cross_modal_attention"
    assert {k: str(v) for k, v in attention.input_ports().items()} == {
        "query": "float32[B N Q=16]",
        "context": "float32[B L C=12]",
        "mask": "bool[B L]",
    }
    assert attention.input_ports()["mask"].optional
    assert {k: str(v) for k, v in attention.output_ports().items()} == {"tokens": "float32[B N Q=16]"}
    out = attention(**inputs())["tokens"]
    assert out.shape == (2, 5, 16) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", NAMES)
def test_masked_context_tokens_get_no_weight(name: str) -> None:
    attention = create(name)
    given = inputs()
    mask = torch.ones(2, 7, dtype=torch.bool)
    mask[0, 4:] = False
    mask[1, :2] = False
    changed = given["context"].clone()
    changed[0, 4:] = 100.0 * torch.randn(3, 12)
    changed[1, :2] = -50.0
    with torch.no_grad():
        before = attention(query=given["query"], context=given["context"], mask=mask)["tokens"]
        after = attention(query=given["query"], context=changed, mask=mask)["tokens"]
        kept = attention(query=given["query"][:1], context=given["context"][:1, :4])["tokens"]
    torch.testing.assert_close(before, after)
    torch.testing.assert_close(before[:1], kept)  # masked tokens behave as if absent


@pytest.mark.parametrize("name", NAMES)
def test_all_masked_rows_give_zeros_not_nan(name: str) -> None:
    attention = create(name)
    mask = torch.ones(2, 7, dtype=torch.bool)
    mask[1] = False
    given = inputs()
    given["query"].requires_grad_(True)
    out = attention(**given, mask=mask)["tokens"]
    assert torch.isfinite(out).all()
    assert torch.equal(out[1], torch.zeros_like(out[1]))
    assert out[0].abs().sum() > 0
    out.sum().backward()
    assert torch.isfinite(given["query"].grad).all()


@pytest.mark.parametrize("name", NAMES)
def test_no_mask_equals_an_all_true_mask(name: str) -> None:
    attention = create(name)
    given = inputs()
    with torch.no_grad():
        torch.testing.assert_close(
            attention(**given)["tokens"], attention(**given, mask=torch.ones(2, 7, dtype=torch.bool))["tokens"]
        )


def _reference(attention: torch.nn.Module, query: torch.Tensor, context: torch.Tensor, linear: bool) -> torch.Tensor:
    heads, width = SIZES["heads"], SIZES["query_size"] // SIZES["heads"]

    def split(x: torch.Tensor) -> torch.Tensor:
        return x.reshape(*x.shape[:2], heads, width).transpose(1, 2)

    q, k, v = split(attention.to_q(query)), split(attention.to_k(context)), split(attention.to_v(context))
    if linear:
        q, k = torch.nn.functional.elu(q) + 1, torch.nn.functional.elu(k) + 1
        weights = q @ k.transpose(-1, -2)
        weights = weights / weights.sum(-1, keepdim=True)
    else:
        weights = (q @ k.transpose(-1, -2) / math.sqrt(width)).softmax(-1)
    return attention.to_out((weights @ v).transpose(1, 2).reshape(*query.shape[:2], -1))


@pytest.mark.parametrize("name", NAMES)
def test_each_computes_its_own_formula(name: str) -> None:
    attention = create(name)
    given = inputs()
    with torch.no_grad():
        out = attention(**given)["tokens"]
        expected = _reference(attention, given["query"], given["context"], linear="linear" in name)
    if "gated" in name:
        expected = math.tanh(0.5) * expected
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)


def test_the_gated_attention_starts_closed_and_learns_to_open() -> None:
    torch.manual_seed(0)
    attention = registry.create(NAMES[1], **SIZES)
    given = inputs()
    out = attention(**given)["tokens"]
    assert torch.equal(out, torch.zeros_like(out))
    (out * torch.randn_like(out)).sum().backward()
    assert attention.gate.grad is not None and attention.gate.grad.abs().item() > 0
    opened = registry.create(NAMES[1], **SIZES, gate_init=1.0)
    assert opened(**given)["tokens"].abs().sum() > 0


@pytest.mark.parametrize("name", NAMES)
def test_heads_must_divide_the_query_size(name: str) -> None:
    with pytest.raises(ConfigError, match="query_size=10 is not a multiple of heads=4"):
        registry.create(name, query_size=10, heads=4)
