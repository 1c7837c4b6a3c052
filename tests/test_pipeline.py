"""Pipelines: specs, build-time validation, execution, swapping and tracing, over installed particles."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
import torch

from sora_core.config import ParticleConfig
from sora_core.errors import (
    IncompatibleSwapError,
    PipelineError,
    PipelineRuntimeError,
    SpecError,
    TemplateNotFoundError,
)
from sora_core.interfaces import ModuleParticle
from sora_core.pipeline import Pipeline, PipelineBuilder, load_spec
from sora_core.pipeline.trace import Tracer, summary_from_chrome_trace
from sora_core.ports import PortSpec
from sora_core.registry import Registry

TEXT = "sora-seed:lstm-text-encoder"
DECODER = "sora-seed:lstm-video-decoder"
ATTENTION = "sora-seed:additive-attention"
GENERATOR = "sora-seed:lstm-video-generator"


class NoiseConfig(ParticleConfig):
    size: int = 4


class Noise(ModuleParticle):
    """Adds fresh noise: a stochastic node."""

    kind = "video_generator"
    Config = NoiseConfig
    stochastic = True

    def input_ports(self) -> dict[str, PortSpec]:
        return {"condition": PortSpec("float32", "B T C")}

    def output_ports(self) -> dict[str, PortSpec]:
        return {"video": PortSpec("float32", "B T C")}

    def forward(self, condition: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"video": condition + torch.randn_like(condition)}


class Spy(ModuleParticle):
    """Records how it was called, and can fail on demand."""

    kind = "video_generator"
    Config = NoiseConfig
    calls: list[dict[str, Any]] = []  # noqa: RUF012
    fail = False
    barrier: threading.Barrier | None = None

    def input_ports(self) -> dict[str, PortSpec]:
        return {"condition": PortSpec("float32", "B T C")}

    def output_ports(self) -> dict[str, PortSpec]:
        return {"video": PortSpec("float32", "B T C")}

    def forward(self, condition: torch.Tensor) -> dict[str, torch.Tensor]:
        Spy.calls.append({"inference": torch.is_inference_mode_enabled(), "thread": threading.get_ident()})
        if Spy.barrier is not None:
            Spy.barrier.wait()  # returns only once the other branch is running too
        if Spy.fail:
            raise ValueError("spy was told to fail")
        return {"video": condition * 2}


@pytest.fixture
def registry() -> Registry:
    registry = Registry()
    registry.register("noise", Noise)
    registry.register("spy", Spy)
    Spy.calls.clear()
    Spy.fail = False
    Spy.barrier = None
    return registry


def seed_builder(decoder_hidden: int = 256) -> PipelineBuilder:
    return (
        PipelineBuilder("seed-test")
        .node("text_encoder", TEXT)
        .node("video_decoder", DECODER, hidden_size=decoder_hidden)
        .node("attention", ATTENTION)
        .node("generator", GENERATOR)
        .connect("text_encoder.embeddings", "attention.context")
        .connect("text_encoder.mask", "attention.mask")
        .connect("video_decoder.hidden", "attention.query")
        .connect("attention.tokens", "generator.condition")
        .input("text", "text_encoder.token_embeddings")
        .input("video_features", "video_decoder.features")
        .output("video", "generator.video")
    )


def seed_inputs(batch: int = 2) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {
        "text": torch.randn(batch, 5, 512, generator=generator),
        "video_features": torch.randn(batch, 4, 512, generator=generator),
    }


def fan(name: str, particle: str, registry: Registry) -> Pipeline:
    return (
        PipelineBuilder(name)
        .node("left", particle)
        .node("right", particle)
        .input("x", "left.condition", "right.condition")
        .output("l", "left.video")
        .output("r", "right.video")
        .build(registry=registry)
    )


# --- specs ---------------------------------------------------------------------------------


def test_spec_file_round_trip(tmp_path: Path, registry: Registry) -> None:
    path = tmp_path / "seed.yaml"
    import yaml

    path.write_text(yaml.safe_dump(seed_builder().spec().to_data()))
    pipe = Pipeline.from_spec(path, registry=registry)
    assert pipe.order == ["text_encoder", "video_decoder", "attention", "generator"]
    json_path = tmp_path / "seed.json"
    json_path.write_text(json.dumps(load_spec(path).to_data()))
    assert load_spec(json_path) == load_spec(path)


def test_spec_errors_name_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("nodes:\n  a: {particle: x, colour: red}\nedges: ['a.out b.in']\n")
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert str(path) in caught.value.message
    assert "nodes.a.colour" in caught.value.message and "node.port -> node.port" in caught.value.message
    path.write_text("nodes: [unclosed\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(path)


def test_template_by_name_and_unknown_template(registry: Registry) -> None:
    assert Pipeline.from_template("seed", registry=registry).name == "seed"
    with pytest.raises(TemplateNotFoundError, match="did you mean 'seed'"):
        Pipeline.from_template("sed", registry=registry)


# --- validation --------------------------------------------------------------------------


def test_seed_wiring_bug_names_edge_and_both_sizes(registry: Registry) -> None:
    with pytest.raises(PipelineError) as caught:
        seed_builder(decoder_hidden=512).build(registry=registry)
    [problem] = caught.value.problems
    assert problem.startswith("edge video_decoder.hidden -> attention.query")
    assert "512" in problem and "256" in problem
    assert f"node 'video_decoder' would fit with {DECODER}'s default config" in problem  # its config, not a swap


def test_all_problems_reported_at_once(registry: Registry) -> None:
    builder = (
        PipelineBuilder("broken")
        .node("text_encoder", TEXT)
        .node("attention", ATTENTION, query_size=128)
        .node("ghost", "no-such-particle")
        .connect("text_encoder.embeddings", "attention.context")
        .connect("text_encoder.pooled", "attention.query")
        .connect("text_encoder.nope", "attention.mask")
        .input("text", "text_encoder.token_embeddings")
        .output("out", "attention.missing")
    )
    with pytest.raises(PipelineError) as caught:
        builder.build(registry=registry)
    problems = "\n".join(caught.value.problems)
    assert "node 'ghost': unknown particle 'no-such-particle'" in problems
    assert "edge text_encoder.pooled -> attention.query: shape: rank differs" in problems
    assert "has no output port 'nope'" in problems and "embeddings, mask, pooled" in problems
    assert "pipeline output 'out'" in problems and "no output port 'missing'" in problems
    assert len(caught.value.problems) == 4


def test_unconnected_required_input_and_double_feed(registry: Registry) -> None:
    builder = (
        PipelineBuilder("loose")
        .node("attention", ATTENTION)
        .input("query", "attention.query")
        .input("again", "attention.query")
    )
    with pytest.raises(PipelineError) as caught:
        builder.build(registry=registry)
    problems = "\n".join(caught.value.problems)
    assert "required input attention.context" in problems and "is not connected" in problems
    assert "input attention.query is fed more than once" in problems
    assert "attention.mask" not in problems  # optional


def test_cycle_is_rejected(registry: Registry) -> None:
    builder = (
        PipelineBuilder("loop")
        .node("a", "spy")
        .node("b", "spy")
        .connect("a.video", "b.condition")
        .connect("b.video", "a.condition")
        .output("out", "b.video")
    )
    with pytest.raises(PipelineError, match="cycle through a, b"):
        builder.build(registry=registry)


def test_space_mismatch_is_caught(registry: Registry) -> None:
    class SpacedConfig(ParticleConfig):
        pass

    class Picky(ModuleParticle):
        kind = "video_generator"
        Config = SpacedConfig

        def input_ports(self) -> dict[str, PortSpec]:
            return {"condition": PortSpec("float32", "B T C", space="text/other@1")}

        def output_ports(self) -> dict[str, PortSpec]:
            return {"video": PortSpec("float32", "B T C")}

        def forward(self, condition: torch.Tensor) -> dict[str, torch.Tensor]:
            return {"video": condition}

    registry.register("picky", Picky)
    builder = (
        PipelineBuilder("spaces")
        .node("text_encoder", TEXT)
        .node("picky", "picky")
        .connect("text_encoder.embeddings", "picky.condition")
        .input("text", "text_encoder.token_embeddings")
    )
    with pytest.raises(
        PipelineError, match="space differs: output is 'text/seed-lstm@1', input expects 'text/other@1'"
    ):
        builder.build(registry=registry)


# --- execution -----------------------------------------------------------------------------


def test_concurrent_and_sequential_runs_agree(registry: Registry) -> None:
    pipe = seed_builder().build(registry=registry)
    inputs = seed_inputs()
    concurrent = pipe.run(inputs, concurrent=True)["video"]
    sequential = pipe.run(inputs, concurrent=False)["video"]
    assert concurrent.shape == (2, 4, 512)
    assert torch.equal(concurrent, sequential)


def test_nodes_run_in_inference_mode_and_branches_concurrently(registry: Registry) -> None:
    pipe = fan("fan", "spy", registry)
    Spy.barrier = threading.Barrier(2, timeout=30)
    out = pipe(x=torch.ones(1, 2, 3))
    assert torch.equal(out["l"], torch.full((1, 2, 3), 2.0))
    assert all(call["inference"] for call in Spy.calls)
    assert len({call["thread"] for call in Spy.calls}) == 2  # both branches were running at once
    Spy.barrier = None
    Spy.calls.clear()
    pipe.run({"x": torch.ones(1, 2, 3)}, concurrent=False)
    assert {call["thread"] for call in Spy.calls} == {threading.get_ident()}


class Nested(ModuleParticle):
    """Runs a whole concurrent pipeline inside its forward, as a composite particle would."""

    kind = "video_generator"
    Config = NoiseConfig
    inner: Pipeline | None = None

    def input_ports(self) -> dict[str, PortSpec]:
        return {"condition": PortSpec("float32", "B T C")}

    def output_ports(self) -> dict[str, PortSpec]:
        return {"video": PortSpec("float32", "B T C")}

    def forward(self, condition: torch.Tensor) -> dict[str, torch.Tensor]:
        assert Nested.inner is not None
        out = Nested.inner.run({"x": condition})
        return {"video": out["l"] + out["r"]}


def test_pipelines_run_inside_concurrent_nodes_without_deadlock(registry: Registry) -> None:
    registry.register("nested", Nested)
    Nested.inner = fan("inner", "spy", registry)
    outer = fan("outer", "nested", registry)
    for _ in range(20):  # every branch of every level waits on the shared pool at some point
        out = outer.run({"x": torch.ones(1, 2, 3)})
        assert torch.equal(out["l"], torch.full((1, 2, 3), 4.0))
    Nested.inner = None


def test_seeded_runs_reproduce(registry: Registry) -> None:
    pipe = (
        PipelineBuilder("noisy")
        .node("first", "noise")
        .node("second", "noise")
        .input("x", "first.condition", "second.condition")
        .output("a", "first.video")
        .output("b", "second.video")
        .build(registry=registry)
    )
    x = torch.zeros(2, 3, 4)
    one, two = pipe.run({"x": x}, seed=7), pipe.run({"x": x}, seed=7)
    assert torch.equal(one["a"], two["a"]) and torch.equal(one["b"], two["b"])
    assert not torch.equal(one["a"], one["b"])  # each node has its own seed
    assert not torch.equal(pipe.run({"x": x}, seed=8)["a"], one["a"])


def test_missing_input_and_failing_node_are_clear(registry: Registry) -> None:
    pipe = (
        PipelineBuilder("one")
        .node("spy", "spy")
        .input("x", "spy.condition")
        .output("y", "spy.video")
        .build(registry=registry)
    )
    with pytest.raises(PipelineRuntimeError, match="missing input 'x'"):
        pipe.run({})
    Spy.fail = True
    with pytest.raises(PipelineRuntimeError, match="node 'spy' \\(runtime:spy\\) failed: ValueError: spy was told"):
        pipe.run({"x": torch.ones(1, 1, 1)})


def test_node_dtype_is_applied(registry: Registry) -> None:
    pipe = (
        PipelineBuilder("half")
        .node("spy", "spy", dtype="float64")
        .input("x", "spy.condition")
        .output("y", "spy.video")
        .build(registry=registry)
    )
    assert pipe.run({"x": torch.ones(1, 1, 1)})["y"].dtype == torch.float64


# --- swapping ------------------------------------------------------------------------------


def test_swap_changes_the_run(registry: Registry) -> None:
    pipe = (
        PipelineBuilder("swappable")
        .node("node", "noise")
        .input("x", "node.condition")
        .output("y", "node.video")
        .build(registry=registry)
    )
    x = torch.ones(1, 2, 3)
    assert not torch.equal(pipe(x=x)["y"], x * 2)
    pipe.swap("node", "spy")
    assert pipe.spec.nodes["node"].particle == "spy"
    assert torch.equal(pipe(x=x)["y"], x * 2)


def test_incompatible_swap_is_refused_with_reasons(registry: Registry) -> None:
    pipe = seed_builder().build(registry=registry)
    with pytest.raises(IncompatibleSwapError) as caught:
        pipe.swap("video_decoder", DECODER, hidden_size=512)
    assert "512" in caught.value.message and "attention.query" in caught.value.message
    with pytest.raises(IncompatibleSwapError, match="is a cross_modal_attention, but sora-seed:lstm-video-generator"):
        pipe.swap("attention", GENERATOR)
    assert pipe.nodes["video_decoder"].config.hidden_size == 256  # nothing changed
    assert pipe.run(seed_inputs())["video"].shape == (2, 4, 512)


# --- tracing -----------------------------------------------------------------------------------


def test_tracer_records_every_node_and_writes_chrome_trace(registry: Registry, tmp_path: Path) -> None:
    pipe = seed_builder().build(registry=registry)
    tracer = Tracer()
    pipe.observe(tracer)
    pipe.run(seed_inputs())
    assert set(tracer.nodes) == {"text_encoder", "video_decoder", "attention", "generator"}
    assert tracer.nodes["generator"].output_shapes == {"video": [2, 4, 512]}
    assert all(record.seconds > 0 and record.peak_memory_bytes > 0 for record in tracer.nodes.values())
    path = tracer.write_chrome_trace(tmp_path / "trace.json")
    data = json.loads(path.read_text())
    assert {event["ph"] for event in data["traceEvents"]} == {"X"}
    assert summary_from_chrome_trace(data)["attention"]["output_shapes"]["tokens"] == [2, 4, 256]
    described = pipe.describe(summary_from_chrome_trace(data))
    assert all(node["trace"]["seconds"] > 0 for node in described["nodes"])
