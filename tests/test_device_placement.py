"""``--device`` puts the whole pipeline on the device, so nodes without weights (a prompt node's layer indices,
the compositor) meet the GPU's outputs there; ``--dtype`` casts only the nodes with weights, never a VAE."""

from __future__ import annotations

from pathlib import Path

import pytest

from sora_core import registry
from sora_core.cli.main import main
from sora_core.pipeline import Pipeline
from sora_core.pipeline.pipeline import FLOAT32_KINDS, placed_spec, template_spec

pytest.importorskip("sora_dit", reason="the t2v template comes with sora-dit")


def test_every_node_goes_to_the_device_and_only_weighted_ones_are_cast() -> None:
    spec, _ = template_spec("t2v", registry.default_registry)
    placed = placed_spec(spec, registry.default_registry, "cpu", "bfloat16")
    assert {name: node.device for name, node in placed.nodes.items()} == {name: "cpu" for name in spec.nodes}
    weightless = [name for name, node in spec.nodes.items() if node.weights is None]
    assert "compositor" in weightless and "prompts" in weightless
    for name, node in placed.nodes.items():
        kind = registry.info(node.particle).kind
        cast = spec.nodes[name].weights is not None and kind not in FLOAT32_KINDS
        assert node.dtype == ("bfloat16" if cast else None), name
    assert placed_spec(spec, registry.default_registry, None, None) is spec


def test_a_pipeline_placed_on_a_device_runs_and_plans_each_node_there(tmp_path: Path) -> None:
    spec, base_dir = template_spec("t2v", registry.default_registry)
    pipe = Pipeline.from_spec(placed_spec(spec, registry.default_registry, "cpu", None), base_dir=base_dir)
    assert {str(pipe.placement(name)[0]) for name in spec.nodes} == {"cpu"}
    out = tmp_path / "red.mp4"
    args = ["generate", "a red circle moving right", "-o", str(out), "--device", "cpu", "--frames", "9", "--steps", "2"]
    assert main(args) == 0 and out.stat().st_size > 0
