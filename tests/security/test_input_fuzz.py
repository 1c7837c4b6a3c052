"""Property tests: ``--input NAME=VALUE`` parsing takes any text and answers with a value or a ``SoraError``.

Random text, random ``randn:``/``zeros:`` shapes (under a 1 MiB input budget, so no example allocates much)
and random JSON go to :func:`~sora_core.pipeline.values.parse_value` for ports of several dtypes and shapes.
Anything but a tensor (or a text list for a ``str`` port) or a ``SoraError`` naming the input fails. The
example budget is the ``ci`` profile's (see the root ``conftest.py``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sora_core.errors import SoraError
from sora_core.pipeline.values import parse_value

PORTS = [
    {"dtype": "float32", "shape": "B L E=512"},
    {"dtype": "float32", "shape": "B ..."},
    {"dtype": "bool", "shape": "B L"},
    {"dtype": "int64", "shape": "B"},
    {"dtype": "float", "shape": ""},
    {"dtype": "any", "shape": "B C=3 T H W"},
    {"dtype": "str", "shape": "B"},
]

BUDGET = 2**20


@pytest.fixture(autouse=True)
def small_budget() -> Iterator[None]:
    # hypothesis reuses one fixture value across examples: patch the environment for the whole test
    with mock.patch.dict(os.environ, {"SORA_MAX_INPUT_BYTES": str(BUDGET)}):
        yield


def _check(text: str, port: dict[str, str]) -> None:
    try:
        value: Any = parse_value("x", text, port, torch.Generator().manual_seed(0))
    except SoraError as exc:
        assert "input 'x'" in exc.message
        assert exc.hint
        return
    if port["dtype"] == "str":
        assert value == [text]
    else:
        assert isinstance(value, torch.Tensor)
        assert value.numel() * value.element_size() <= BUDGET


@given(st.text(max_size=80), st.sampled_from(PORTS))
def test_any_text(text: str, port: dict[str, str]) -> None:
    _check(text, port)


SIZES = st.one_of(
    st.integers(0, 64).map(str),
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(["", " ", "x", "1.5", "1e3", "-0", "+3", "٣", "0x10", "1_000", "nan", "∞"]),
)


@given(
    st.sampled_from(["randn", "rand", "zeros", "ones"]),
    st.lists(SIZES, max_size=20),
    st.sampled_from([",", "x", ", "]),
    st.sampled_from(PORTS),
)
def test_random_factory_shapes(kind: str, sizes: list[str], separator: str, port: dict[str, str]) -> None:
    _check(f"{kind}:{separator.join(sizes)}", port)


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**80), 2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=40,
)


@given(JSON, st.sampled_from(PORTS))
def test_random_json(data: Any, port: dict[str, str]) -> None:
    _check(json.dumps(data), port)


@given(st.integers(1, 3000), st.sampled_from(["[", "{", '{"a":', "[1,"]), st.sampled_from(PORTS))
def test_deep_json(depth: int, opener: str, port: dict[str, str]) -> None:
    _check(opener * depth, port)
