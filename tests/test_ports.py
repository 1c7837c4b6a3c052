"""Port specs: dtype, symbolic shape and space compatibility, each mismatch explained."""

from __future__ import annotations

import pytest

from sora_core.errors import PortError
from sora_core.ports import PortSpec, can_connect, connection_problems
from sora_core.shapes import ShapeUnifier, parse_shape
from sora_core.spaces import SpaceSpec, space_mismatch


def test_identical_ports_connect() -> None:
    spec = PortSpec("float32", "B L D=384", space="text/minilm-l6@1")
    assert connection_problems(spec, spec) == []
    assert can_connect(spec, spec)


@pytest.mark.parametrize(
    ("produced", "accepted", "ok"),
    [
        ("float32", "float32", True),
        ("float16", "float", True),
        ("float", "bfloat16", True),
        ("int64", "int", True),
        ("any", "int64", True),
        ("int64", "float32", False),
        ("bool", "float", False),
        ("str", "str", True),
        ("str", "int64", False),
    ],
)
def test_dtype_rules(produced: str, accepted: str, ok: bool) -> None:
    problems = connection_problems(PortSpec(produced, "B"), PortSpec(accepted, "B"))
    assert (problems == []) is ok
    if not ok:
        assert problems == [f"dtype differs: output is {produced}, input expects {accepted}"]


def test_named_fixed_size_mismatch_names_symbol_and_both_sizes() -> None:
    problems = connection_problems(PortSpec("float32", "B T F=512"), PortSpec("float32", "B T F=256"))
    assert len(problems) == 1
    assert "dimension 2 (F)" in problems[0]
    assert "512" in problems[0] and "256" in problems[0]


def test_symbol_meets_fixed_size() -> None:
    assert can_connect(PortSpec("float32", "B 16"), PortSpec("float32", "B D"))
    problems = connection_problems(PortSpec("float32", "B 3"), PortSpec("float32", "B 4"))
    assert problems == ["shape: dimension 1: output has 3, input expects 4"]


def test_repeated_symbol_must_agree() -> None:
    # The input requires a square matrix; the output is 3 x 4.
    problems = connection_problems(PortSpec("float32", "3 4"), PortSpec("float32", "N N"))
    assert problems and "dimension 1 (N)" in problems[0]


def test_rank_mismatch_is_explained() -> None:
    problems = connection_problems(PortSpec("float32", "B L"), PortSpec("float32", "B L D"))
    assert problems == ["shape: rank differs: output is 'B L' (2 dims), input expects 'B L D' (3 dims)"]


@pytest.mark.parametrize(
    ("produced", "accepted", "ok"),
    [
        ("B C T H W", "B ...", True),
        ("B C T H W", "... H W", True),
        ("B 3 T H W", "... 4 T H W", False),
        ("B", "B ... 3 T", False),
        ("B 3 T", "B ... T", True),
    ],
)
def test_variadic_dimensions(produced: str, accepted: str, ok: bool) -> None:
    assert can_connect(PortSpec("float32", produced), PortSpec("float32", accepted)) is ok


def test_all_problems_reported_at_once() -> None:
    problems = connection_problems(
        PortSpec("int64", "B L", space="text/a@1"), PortSpec("float32", "B L D", space="text/b@1")
    )
    assert [p.split(":")[0] for p in problems] == ["dtype differs", "shape", "space differs"]


@pytest.mark.parametrize(
    ("produced", "accepted", "expected"),
    [
        ("text/minilm-l6@1", "text/minilm-l6@1", None),
        ("text/minilm-l6@1", None, None),
        (None, "text/minilm-l6@1", None),
        ("text/minilm-l6@1", "text/*", None),
        ("text/minilm-l6@2", "text/minilm-l6@1", "space version differs"),
        ("latent/vae-a@1", "latent/vae-b@1", "space differs"),
    ],
)
def test_space_rules(produced: str | None, accepted: str | None, expected: str | None) -> None:
    problem = space_mismatch(produced, accepted)
    assert (problem is None) if expected is None else (problem or "").startswith(expected)


@pytest.mark.parametrize("shape", ["B L D=x", "B 3x", "... ...", "B D="])
def test_invalid_shape_is_refused_naming_it(shape: str) -> None:
    with pytest.raises(PortError, match="shape"):
        parse_shape(shape)


def test_invalid_dtype_and_space_are_refused() -> None:
    with pytest.raises(PortError, match="unknown dtype 'float33'"):
        PortSpec("float33", "B")
    with pytest.raises(PortError, match="invalid space tag 'Text Space'"):
        PortSpec("float32", "B", space="Text Space")
    with pytest.raises(PortError, match="invalid space tag"):
        SpaceSpec("text/no-version")


def test_port_spec_round_trips_through_dicts() -> None:
    spec = PortSpec("float32", "B L D=384", space="text/minilm-l6@1", optional=True, description="tokens")
    assert PortSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(PortError, match="invalid port spec"):
        PortSpec.from_dict({"dtype": "float32", "shap": "B"})


def test_unifier_carries_sizes_across_edges() -> None:
    # Graph: a.out (B D=512) -> b.in (B D); b.out (B D) -> c.in (B 256). b's D is 512, so the second edge fails.
    unifier = ShapeUnifier()
    first = connection_problems(
        PortSpec("float32", "B D=512"), PortSpec("float32", "B D"), unifier, produced_ns="a", accepted_ns="b"
    )
    assert first == []
    second = connection_problems(
        PortSpec("float32", "B D"), PortSpec("float32", "B 256"), unifier, produced_ns="b", accepted_ns="c"
    )
    assert second == ["shape: dimension 1 (D): output has 512, input expects 256"]
    assert unifier.size_of("b", "D") == 512
