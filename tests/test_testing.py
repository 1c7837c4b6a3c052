"""The conformance kit: a correct toy passes every check; each broken toy fails the right one."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch
from pydantic import Field, field_serializer
from torch import nn

from sora_core import registry
from sora_core.config import ParticleConfig
from sora_core.interfaces import CrossModalAttention, ModuleParticle, TextEncoder, Tokenizer
from sora_core.kinds import KindSpec
from sora_core.manifest_builder import write_manifests
from sora_core.ports import PortSpec
from sora_core.registry import Registry
from sora_core.synthetic import write_plugin
from sora_core.testing import (
    CHECKS,
    CheckResult,
    assert_conforms,
    check_particle,
    conformance_suite,
    make_example_inputs,
)

# --- toy particles ----------------------------------------------------------------------------------------------


class ToyConfig(ParticleConfig):
    input_size: int = Field(8, gt=0)
    hidden_size: int = Field(6, gt=0)


class ToyEncoder(TextEncoder):
    """A correct text encoder over token embeddings: a linear layer and a masked mean."""

    Config = ToyConfig
    description = "toy text encoder"

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.proj = nn.Linear(self.config.input_size, self.config.hidden_size)

    def input_ports(self) -> dict[str, PortSpec]:
        return {
            "token_embeddings": PortSpec("float32", f"B L E={self.config.input_size}"),
            "mask": PortSpec("bool", "B L", optional=True),
        }

    def output_ports(self) -> dict[str, PortSpec]:
        d = self.config.hidden_size
        return {
            "embeddings": PortSpec("float32", f"B L D={d}"),
            "mask": PortSpec("bool", "B L"),
            "pooled": PortSpec("float32", f"B D={d}"),
        }

    def forward(self, token_embeddings: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, Any]:
        if mask is None:
            mask = torch.ones(token_embeddings.shape[:2], dtype=torch.bool)
        hidden = self.proj(token_embeddings)
        weights = mask.unsqueeze(-1).float()
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1)
        return {"embeddings": hidden, "mask": mask, "pooled": pooled}


class ToyTokenizer(Tokenizer):
    """A weightless tokenizer: characters modulo a small vocabulary."""

    class Config(ParticleConfig):
        length: int = 5

    description = "toy tokenizer"

    def input_ports(self) -> dict[str, PortSpec]:
        return {"text": PortSpec("str", "B")}

    def output_ports(self) -> dict[str, PortSpec]:
        return {"tokens": PortSpec("int64", f"B L={self.config.length}"), "mask": PortSpec("bool", "B L")}

    def forward(self, text: list[str]) -> dict[str, Any]:
        ids = [[ord(c) % 7 for c in t[: self.config.length].ljust(self.config.length)] for t in text]
        tokens = torch.tensor(ids, dtype=torch.int64)
        return {"tokens": tokens, "mask": tokens != ord(" ") % 7}


class WrongShape(ToyEncoder):
    """Declares pooled (B, D) but returns (B, D + 1)."""

    def forward(self, token_embeddings: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, Any]:
        out = super().forward(token_embeddings, mask)
        out["pooled"] = torch.cat([out["pooled"], out["pooled"][:, :1]], dim=1)
        return out


class SequenceFirst(ToyEncoder):
    """The seed design's bug: an LSTM built sequence-first and fed batch-first tensors."""

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.lstm = nn.LSTM(self.config.hidden_size, self.config.hidden_size)

    def forward(self, token_embeddings: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, Any]:
        out = super().forward(token_embeddings, mask)
        out["embeddings"] = self.lstm(out["embeddings"])[0]
        return out


class NoContext(CrossModalAttention):
    """A cross-modal attention that forgot its ``context`` input."""

    Config = ToyConfig

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.proj = nn.Linear(self.config.input_size, self.config.input_size)

    def input_ports(self) -> dict[str, PortSpec]:
        return {"query": PortSpec("float32", f"B T Q={self.config.input_size}")}

    def output_ports(self) -> dict[str, PortSpec]:
        return {"tokens": PortSpec("float32", f"B T Q={self.config.input_size}")}

    def forward(self, query: torch.Tensor) -> dict[str, Any]:
        return {"tokens": self.proj(query)}


_calls = itertools.count()


class Nondeterministic(ToyEncoder):
    """Adds noise that depends on a call counter, not on the seed."""

    def forward(self, token_embeddings: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, Any]:
        out = super().forward(token_embeddings, mask)
        out["pooled"] = out["pooled"] + next(_calls) * 1e-3
        return out


class LossyConfig(ToyConfig):
    scale: float = 0.125

    @field_serializer("scale")
    def _rounded(self, value: float) -> float:
        return round(value, 1)


class LossyConfigEncoder(ToyEncoder):
    """Its config serialises ``scale`` rounded, so it does not survive JSON."""

    Config = LossyConfig


class InPlace(ToyEncoder):
    """Scales its input tensor in place."""

    def forward(self, token_embeddings: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, Any]:
        token_embeddings.mul_(2)
        return super().forward(token_embeddings, mask)


class Crashing(ToyEncoder):
    def forward(self, token_embeddings: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, Any]:
        raise RuntimeError("boom in forward")


class UnsavedState(ToyEncoder):
    """Keeps a random buffer out of its state dict, so loading cannot restore it."""

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.register_buffer("offset", torch.randn(self.config.hidden_size), persistent=False)

    def forward(self, token_embeddings: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, Any]:
        out = super().forward(token_embeddings, mask)
        out["pooled"] = out["pooled"] + self.offset
        return out


class NewKind(ModuleParticle):
    """A particle of a kind no installed plugin contributes."""

    kind: ClassVar[str] = "toy_kind"
    Config = ToyConfig

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.proj = nn.Linear(self.config.input_size, self.config.hidden_size)

    def input_ports(self) -> dict[str, PortSpec]:
        return {"features": PortSpec("float32", f"B T F={self.config.input_size}")}

    def output_ports(self) -> dict[str, PortSpec]:
        return {"hidden": PortSpec("float32", f"B T H={self.config.hidden_size}")}

    def forward(self, features: torch.Tensor) -> dict[str, Any]:
        return {"hidden": self.proj(features)}


class SmallVocab(ModuleParticle):
    """Token ids must be below its vocabulary size of 4: it supplies its own example inputs."""

    kind: ClassVar[str] = "toy_kind"
    Config = ToyConfig

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.embed = nn.Embedding(4, self.config.hidden_size)

    def input_ports(self) -> dict[str, PortSpec]:
        return {"features": PortSpec("int64", "B T")}

    def output_ports(self) -> dict[str, PortSpec]:
        return {"hidden": PortSpec("float32", f"B T H={self.config.hidden_size}")}

    def forward(self, features: torch.Tensor) -> dict[str, Any]:
        return {"hidden": self.embed(features)}


class SmallVocabWithExamples(SmallVocab):
    @classmethod
    def example_inputs(cls, config: ToyConfig, batch: int, generator: torch.Generator) -> dict[str, Any]:
        return {"features": torch.randint(0, 4, (batch, 9), generator=generator)}


TOY_KINDS = {"toy_kind": KindSpec("toy_kind", "toy", ("features",), ("hidden",), contributed_by="tests")}


def by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.name: r for r in results}


def failed(results: list[CheckResult]) -> dict[str, str]:
    return {r.name: r.detail for r in results if not r.passed}


# --- passing ----------------------------------------------------------------------------------------------------


def test_correct_particle_passes_every_check() -> None:
    results = check_particle(ToyEncoder)
    assert [r.name for r in results] == list(CHECKS)
    assert failed(results) == {}
    assert "embeddings=float32(2, 3, 6)" in by_name(results)["forward-shapes"].detail
    assert_conforms(ToyEncoder, {"hidden_size": 4}, batch=3)


def test_weightless_particle_passes() -> None:
    results = check_particle(ToyTokenizer, {"length": 4})
    assert failed(results) == {}
    assert "no weights (config only)" in by_name(results)["save-load"].detail


def test_sizes_and_batch_reach_the_inputs() -> None:
    detail = by_name(check_particle(ToyEncoder, batch=5, sizes={"L": 11}))["forward-shapes"].detail
    assert "token_embeddings=float32(5, 11, 8)" in detail


def test_size_contradicting_a_declaration_is_reported() -> None:
    detail = failed(check_particle(ToyEncoder, sizes={"E": 3}))["forward-shapes"]
    assert "E is 3" in detail and "8" in detail


def test_global_rng_is_left_alone() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check_particle(ToyEncoder)
    assert torch.equal(torch.rand(3), expected)


class ToyAttention(CrossModalAttention):
    """Attention with the context length shared by two inputs and one output."""

    Config = ToyConfig

    def input_ports(self) -> dict[str, PortSpec]:
        return {
            "query": PortSpec("float32", "B T Q"),
            "context": PortSpec("float32", f"B L C={self.config.input_size}"),
            "mask": PortSpec("bool", "B L", optional=True),
        }

    def output_ports(self) -> dict[str, PortSpec]:
        return {"tokens": PortSpec("float32", f"B T C={self.config.input_size}")}

    def forward(self, query: torch.Tensor, context: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, Any]:
        weights = torch.ones(query.shape[:2] + context.shape[1:2]).softmax(-1)
        return {"tokens": weights @ context}


def test_example_inputs_share_symbol_sizes_across_ports() -> None:
    inputs = make_example_inputs(ToyAttention(), batch=3, sizes={"T": 5})
    assert inputs["query"].shape[:2] == (3, 5)
    assert inputs["context"].shape[0] == 3 and inputs["context"].shape[2] == 8
    assert inputs["mask"].shape == inputs["context"].shape[:2] and inputs["mask"].all()
    assert len({inputs["query"].shape[2], inputs["context"].shape[1], 5}) == 3  # free symbols get distinct sizes
    assert set(make_example_inputs(ToyAttention(), optional=False)) == {"query", "context"}


def test_batch_of_one_makes_batch_independence_not_applicable() -> None:
    result = by_name(check_particle(ToyEncoder, batch=1))["batch-independent"]
    assert result.passed and "not applicable" in result.detail


# --- failing the right check ------------------------------------------------------------------------------------


def test_wrong_output_shape_fails_forward_shapes() -> None:
    problems = failed(check_particle(WrongShape))
    assert set(problems) == {"forward-shapes"}
    assert "output 'pooled'" in problems["forward-shapes"]
    assert "dimension 1 (D) is 7, declared D=6" in problems["forward-shapes"]


def test_a_pretrained_on_create_particle_must_name_the_files_it_loaded(tmp_path: Path) -> None:
    class Unpinned(ToyEncoder):
        pretrained_on_create = True  # says its constructor loads weights, but names no files for a lock

    problems = failed(check_particle(Unpinned))
    assert set(problems) == {"loaded-files"}
    assert "loaded_files() names no files, so `sora lock` cannot pin" in problems["loaded-files"]

    weights = tmp_path / "weights.safetensors"
    weights.write_bytes(b"stand-in")

    class Pinned(Unpinned):
        def loaded_files(self) -> dict[str, Any]:
            return {"my-model/weights.safetensors": weights, "/abs/name": weights, "my-model/gone": tmp_path / "gone"}

    problems = failed(check_particle(Pinned))
    assert problems["loaded-files"] == (
        f"loaded_files(): name '/abs/name' is not a relative name (say 'PACKAGE/FILE'); "
        f"'my-model/gone': {tmp_path / 'gone'} is not a file"
    )
    results = check_particle(type("Good", (Unpinned,), {"loaded_files": lambda self: {"my-model/w": weights}}))
    assert [r.name for r in results] == [*CHECKS, "loaded-files"]
    assert failed(results) == {}


def test_sequence_first_lstm_fails_batch_independent() -> None:
    problems = failed(check_particle(SequenceFirst))
    assert set(problems) == {"batch-independent"}
    assert "changing batch item 0 of token_embeddings changed other items" in problems["batch-independent"]
    assert "output 'embeddings'" in problems["batch-independent"]
    assert "batch-independent" not in failed(check_particle(SequenceFirst, batch=1))


def test_missing_required_port_fails_kind() -> None:
    problems = failed(check_particle(NoContext))
    assert set(problems) == {"kind"}
    assert "kind 'cross_modal_attention' requires an input port 'context'" in problems["kind"]


def test_nondeterministic_forward_fails_deterministic() -> None:
    problems = failed(check_particle(Nondeterministic))
    assert "deterministic" in problems
    assert "called twice under the same seed: output 'pooled' differs" in problems["deterministic"]


def test_config_that_does_not_round_trip_fails_config_json() -> None:
    problems = failed(check_particle(LossyConfigEncoder))
    assert set(problems) == {"config-json", "save-load"}  # config.json on disk loses it too
    assert "config differs after loading" in problems["save-load"]
    assert "does not round-trip" in problems["config-json"] and "scale=0.1" in problems["config-json"]


def test_invalid_config_fails_with_the_field_named() -> None:
    problems = failed(check_particle(ToyEncoder, {"hidden_size": 0}))
    assert set(problems) == set(CHECKS)
    assert "'hidden_size'" in problems["ports"] and "ConfigError" in problems["ports"]


def test_in_place_input_mutation_fails_forward_shapes() -> None:
    detail = failed(check_particle(InPlace))["forward-shapes"]
    assert "modified its inputs in place: input 'token_embeddings' differs" in detail


def test_a_raising_check_fails_without_crashing_the_kit() -> None:
    results = check_particle(Crashing)
    assert [r.name for r in results] == list(CHECKS)
    problems = failed(results)
    assert "RuntimeError: boom in forward" in problems["forward-shapes"]
    assert {"kind", "ports", "config-json"}.isdisjoint(problems)


def test_state_outside_the_state_dict_fails_save_load() -> None:
    problems = failed(check_particle(UnsavedState))
    assert set(problems) == {"save-load"}
    assert "output 'pooled' differs" in problems["save-load"]


def test_unknown_kind_fails_unless_given() -> None:
    detail = failed(check_particle(NewKind))["kind"]
    assert "'toy_kind' is neither built in nor contributed" in detail
    assert failed(check_particle(NewKind, kinds=TOY_KINDS)) == {}


def test_example_inputs_override() -> None:
    assert "forward-shapes" in failed(check_particle(SmallVocab, kinds=TOY_KINDS))
    results = check_particle(SmallVocabWithExamples, kinds=TOY_KINDS)
    assert failed(results) == {}
    assert "features=int64(2, 9)" in by_name(results)["forward-shapes"].detail


def test_assert_conforms_lists_every_failure() -> None:
    with pytest.raises(AssertionError) as caught:
        assert_conforms(NoContext)
    assert "NoContext fails 1 of 7 conformance checks" in str(caught.value)
    assert "- kind: kind 'cross_modal_attention' requires" in str(caught.value)


def test_unresolvable_target_is_a_failed_result() -> None:
    [result] = check_particle("no-such-dist:nothing")
    assert result.name == "resolve" and not result.passed
    assert "unknown particle" in result.detail


# --- by name, through the registry ------------------------------------------------------------------------------


@pytest.fixture
def synthetic(plugin_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A synthetic plugin ``toy-plugin`` (hand-written manifest) behind the default registry."""
    write_plugin(plugin_root, "toy-plugin", ["alpha", "beta"])
    monkeypatch.setattr(registry, "default_registry", Registry(paths=[str(plugin_root)]))
    return plugin_root


def make_stale(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Edit toy-plugin's manifest as if alpha's config changed after it was written."""
    manifest = root / "toy_plugin" / "sora_manifest.json"
    stale = json.loads(manifest.read_text())
    stale["particles"]["alpha"]["config_schema"] = {"properties": {"size": {"type": "integer", "default": 8}}}
    manifest.write_text(json.dumps(stale))
    monkeypatch.setattr(registry, "default_registry", Registry(paths=[str(root)]))


def test_by_name_checks_the_manifest(synthetic: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_stale(synthetic, monkeypatch)
    problems = failed(check_particle("toy-plugin:alpha"))
    assert set(problems) == {"manifest"}
    assert "config_schema" in problems["manifest"] and "sora manifest toy-plugin --write" in problems["manifest"]
    write_manifests("toy-plugin")
    monkeypatch.setattr(registry, "default_registry", Registry(paths=[str(synthetic)]))
    results = check_particle("alpha")
    assert [r.name for r in results] == [*CHECKS, "manifest"]
    assert failed(results) == {}


def test_conformance_suite_is_parametrized_over_the_distribution(
    synthetic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    test = conformance_suite("Toy_Plugin")
    [mark] = [m for m in test.pytestmark if m.name == "parametrize"]
    assert mark.args == ("particle", ["toy-plugin:alpha", "toy-plugin:beta"])
    test("toy-plugin:alpha")
    make_stale(synthetic, monkeypatch)
    with pytest.raises(AssertionError, match="manifest"):
        test("toy-plugin:alpha")


def test_conformance_suite_refuses_configs_for_unknown_particles(synthetic: Path) -> None:
    with pytest.raises(ValueError, match="unknown particles \\['gamma'\\]"):
        conformance_suite("toy-plugin", {"alpha": {"size": 4}, "gamma": {}})


def test_conformance_suite_of_a_missing_distribution_fails(synthetic: Path) -> None:
    test = conformance_suite("not-installed")
    with pytest.raises(pytest.fail.Exception, match="no particles of distribution 'not-installed'"):
        test()
