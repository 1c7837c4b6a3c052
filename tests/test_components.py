"""Components (a node calling another node's particle), Pipeline.configure, --set, Scheduler.sample and progress."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch
from torch import Tensor, nn

from sora_core.config import ParticleConfig
from sora_core.errors import ComponentError, ConfigError, IncompatibleSwapError, PipelineError
from sora_core.interfaces import Denoiser, Scheduler, VideoGenerator
from sora_core.particle import Particle, WeightlessParticle
from sora_core.pipeline import Pipeline, PipelineBuilder
from sora_core.pipeline.lock import check_lock, write_lock
from sora_core.pipeline.render import to_dot, to_html, to_mermaid
from sora_core.ports import PortSpec
from sora_core.progress import track
from sora_core.registry import Registry
from sora_core.testing import check_particle


class ScaleConfig(ParticleConfig):
    factor: float = 2.0


class Scale(Denoiser):
    """prediction = factor * latent + condition: a tiny denoiser with one learned weight."""

    Config = ScaleConfig

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.weight = nn.Parameter(torch.tensor(self.config.factor))

    def input_ports(self) -> dict[str, PortSpec]:
        return {
            "latent": PortSpec("float32", "B C"),
            "timestep": PortSpec("float32", "B"),
            "condition": PortSpec("float32", "B C"),
        }

    def output_ports(self) -> dict[str, PortSpec]:
        return {"prediction": PortSpec("float32", "B C")}

    def forward(self, latent: Tensor, timestep: Tensor, condition: Tensor) -> dict[str, Tensor]:
        return {"prediction": self.weight * latent + condition}


class StepsConfig(ParticleConfig):
    steps: int = 4


class Euler(Scheduler):
    """x <- x + (t_next - t) * v, from t=1 to t=0."""

    Config = StepsConfig

    def input_ports(self) -> dict[str, PortSpec]:
        return {}

    def output_ports(self) -> dict[str, PortSpec]:
        return {}

    def forward(self, **inputs: Any) -> dict[str, Any]:
        return {}

    def timesteps(self, num_steps: int) -> list[float]:
        return [1 - i / num_steps for i in range(num_steps + 1)]

    def step(self, prediction: Tensor, t: float, t_next: float, sample: Tensor) -> Tensor:
        return sample + (t_next - t) * prediction


class HalfStep(Euler):
    """Takes every step at half size: a different sampler for the same denoiser."""

    def step(self, prediction: Tensor, t: float, t_next: float, sample: Tensor) -> Tensor:
        return sample + 0.5 * (t_next - t) * prediction


class Sampler(VideoGenerator):
    """Runs its scheduler with its denoiser, conditioned on ``condition``."""

    Config = StepsConfig
    component_kinds_map: ClassVar[dict[str, str]] = {"denoiser": "denoiser", "scheduler": "scheduler"}

    @classmethod
    def component_kinds(cls) -> dict[str, str]:
        return dict(cls.component_kinds_map)

    @classmethod
    def example_components(cls, config: Any) -> dict[str, Particle]:
        return {"denoiser": Scale(), "scheduler": Euler()}

    def input_ports(self) -> dict[str, PortSpec]:
        return {"condition": PortSpec("float32", "B C")}

    def output_ports(self) -> dict[str, PortSpec]:
        return {"video": PortSpec("float32", "B C")}

    def forward(self, condition: Tensor) -> dict[str, Tensor]:
        denoiser, scheduler = self.component("denoiser"), self.component("scheduler")

        def velocity(sample: Tensor, t: float) -> Tensor:
            timestep = torch.full(sample.shape[:1], t)
            return denoiser(latent=sample, timestep=timestep, condition=condition)["prediction"]

        assert isinstance(scheduler, Scheduler)
        return {"video": scheduler.sample(velocity, torch.ones_like(condition), self.config.steps, progress=False)}


class Prompt(WeightlessParticle):
    kind = "tokenizer"

    def input_ports(self) -> dict[str, PortSpec]:
        return {"text": PortSpec("str", "B")}

    def output_ports(self) -> dict[str, PortSpec]:
        return {"tokens": PortSpec("int64", "B L"), "mask": PortSpec("bool", "B L")}

    def forward(self, text: list[str]) -> dict[str, Any]:
        return {"tokens": torch.zeros(len(text), 1, dtype=torch.long), "mask": torch.ones(len(text), 1, dtype=bool)}


@pytest.fixture
def registry() -> Registry:
    registry = Registry()
    for name, cls in (("scale", Scale), ("euler", Euler), ("half-step", HalfStep), ("sampler", Sampler)):
        registry.register(name, cls)
    registry.register("prompt", Prompt)
    return registry


def builder(**sampler_components: str) -> PipelineBuilder:
    components = sampler_components or {"denoiser": "denoiser", "scheduler": "scheduler"}
    return (
        PipelineBuilder("sampling")
        .node("denoiser", "runtime:scale")
        .node("scheduler", "runtime:euler")
        .node("sampler", "runtime:sampler", components=components)
        .input("condition", "sampler.condition")
        .output("video", "sampler.video")
    )


def expected(factor: float, steps: int, condition: Tensor, step_scale: float = 1.0) -> Tensor:
    sample = torch.ones_like(condition)
    for _ in range(steps):
        sample = sample - step_scale * (1 / steps) * (factor * sample + condition)
    return sample


def test_components_are_bound_and_called_but_never_run_on_their_own(registry: Registry) -> None:
    pipe = builder().build(registry=registry)
    condition = torch.tensor([[0.5, -1.0]])
    video = pipe(condition=condition)["video"]
    torch.testing.assert_close(video, expected(2.0, 4, condition))
    assert set(pipe.plan().nodes) == {"sampler"}  # the denoiser and scheduler are not dataflow nodes
    assert "weight" not in dict(pipe.nodes["sampler"].named_parameters())  # components are not submodules
    assert pipe.describe()["nodes"][-1]["components"] == {"denoiser": "denoiser", "scheduler": "scheduler"}


def test_swapping_and_configuring_a_component_node_changes_the_run(registry: Registry) -> None:
    pipe = builder().build(registry=registry)
    condition = torch.tensor([[0.5, -1.0]])
    pipe.swap("scheduler", "runtime:half-step")
    torch.testing.assert_close(pipe(condition=condition)["video"], expected(2.0, 4, condition, step_scale=0.5))
    pipe.configure("denoiser", factor=3.0)
    torch.testing.assert_close(pipe(condition=condition)["video"], expected(3.0, 4, condition, step_scale=0.5))
    pipe.configure("sampler", steps=2)
    assert pipe.spec.nodes["sampler"].components == {"denoiser": "denoiser", "scheduler": "scheduler"}
    torch.testing.assert_close(pipe(condition=condition)["video"], expected(3.0, 2, condition, step_scale=0.5))


def test_components_are_bound_from_the_build_on_so_node_methods_work_outside_a_run(registry: Registry) -> None:
    pipe = builder().build(registry=registry)
    sampler = pipe.nodes["sampler"]
    assert sampler.component("denoiser") is pipe.nodes["denoiser"]
    pipe.swap("scheduler", "runtime:half-step")
    assert sampler.component("scheduler") is pipe.nodes["scheduler"]  # swapped in without a run
    assert pipe.nodes["scheduler"].registered_name == "runtime:half-step"


def test_component_problems_are_all_reported_at_build_time(registry: Registry) -> None:
    spec = (
        builder(denoiser="scheduler", scheduler="nowhere", extra="denoiser")
        .node("tokens", "runtime:prompt")
        .input("text", "tokens.text")
        .spec()
    )
    with pytest.raises(PipelineError) as caught:
        Pipeline.from_spec(spec, registry=registry)
    text = str(caught.value)
    assert "component 'denoiser': needs a denoiser, but node 'scheduler' (runtime:euler) is a scheduler" in text
    assert "component 'scheduler': unknown node 'nowhere'" in text
    assert "component 'extra': no such slot; its slots are denoiser, scheduler" in text
    with pytest.raises(PipelineError, match="needs a scheduler as component 'scheduler'"):
        Pipeline.from_spec(builder(denoiser="denoiser").spec(), registry=registry)
    with pytest.raises(PipelineError, match="a node cannot be its own component"):
        Pipeline.from_spec(builder(denoiser="sampler", scheduler="scheduler").spec(), registry=registry)


def test_a_wrong_kind_swap_of_a_component_node_is_refused(registry: Registry) -> None:
    pipe = builder().build(registry=registry)
    with pytest.raises(IncompatibleSwapError, match="a swap keeps the node's kind"):
        pipe.swap("scheduler", "runtime:scale")


def test_unbound_and_wrongly_bound_components_raise_clear_errors() -> None:
    sampler = Sampler()
    with pytest.raises(ComponentError, match=r"component 'denoiser' of .* is not bound \(it needs a denoiser\)"):
        sampler(condition=torch.zeros(1, 2))
    with pytest.raises(ComponentError, match="must be a scheduler, not the denoiser"):
        sampler.bind_components({"scheduler": Scale()})
    with pytest.raises(ComponentError, match="has no component slot 'vae'"):
        sampler.bind_components({"vae": Scale()})


def test_the_conformance_kit_binds_example_components() -> None:
    results = check_particle(Sampler)
    assert all(r.passed for r in results), [str(r) for r in results if not r.passed]


def test_configure_refuses_nodes_loaded_from_weights_and_bad_values(registry: Registry, tmp_path: Path) -> None:
    Scale(factor=1.5).save_pretrained(tmp_path / "scale")
    pipe = builder().node("denoiser", "runtime:scale", weights=str(tmp_path / "scale")).build(registry=registry)
    with pytest.raises(IncompatibleSwapError, match="loaded from weights"):
        pipe.configure("denoiser", factor=2.0)
    with pytest.raises(IncompatibleSwapError, match="field 'steps' = 'many'"):
        pipe.configure("scheduler", steps="many")


def test_lock_and_drawings_include_components(registry: Registry, tmp_path: Path) -> None:
    pipe = builder().build(registry=registry)
    lock = write_lock(pipe, tmp_path / "sampling.lock.json")
    data = json.loads(Path(lock).read_text())
    assert data["graph"]["components"] == ["sampler.denoiser <- denoiser", "sampler.scheduler <- scheduler"]
    check_lock(pipe, lock)
    description = pipe.describe()
    assert 'n_denoiser -.->|"component denoiser"| n_sampler' in to_mermaid(description)
    assert 'n_scheduler -> n_sampler [style=dashed, color="#6b4fa0", label="scheduler"' in to_dot(description)
    assert to_html(description).count('class="wire component"') == 2


def test_scheduler_sample_needs_a_step_and_reports_progress_only_when_asked(capsys) -> None:
    with pytest.raises(ConfigError, match="at least 1 step"):
        Euler(steps=0).sample(lambda x, t: x, torch.zeros(1))
    assert list(track(range(3), total=3, description="x", show=False)) == [0, 1, 2]
    assert capsys.readouterr().err == ""


def test_cli_set_configures_nodes_and_rejects_malformed_settings(tmp_path: Path) -> None:
    spec = tmp_path / "seed.yaml"
    spec.write_text(
        "name: small\nnodes:\n  gen: {particle: sora-seed:lstm-video-generator}\n"
        "inputs: {condition: gen.condition}\noutputs: {video: gen.video}\n"
    )
    command = [sys.executable, "-m", "sora_core.cli.main", "run", str(spec), "--json"]
    env = {**os.environ}
    ok = subprocess.run(
        [*command, "--set", "gen.output_size=32", "--input", "condition=randn:2,3,256"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["outputs"]["video"]["shape"] == [2, 3, 32]
    bad = subprocess.run([*command, "--set", "gen=32"], capture_output=True, text=True, env=env)
    assert bad.returncode == 1 and "is not NODE.FIELD=VALUE" in bad.stderr
    bad = subprocess.run([*command, "--set", "gen.output_size=-1"], capture_output=True, text=True, env=env)
    assert bad.returncode == 1 and "output_size" in bad.stderr and "Traceback" not in bad.stderr


class PickySampler(Sampler):
    """Refuses denoisers whose factor is above 5: a fit that kinds alone cannot express."""

    def component_problems(self, components: dict[str, Particle]) -> list[str]:
        factor = components["denoiser"].config.factor
        return [f"denoiser factor {factor} is above 5"] if factor > 5 else []


def test_component_problems_beyond_kinds_are_checked_at_build_and_swap_time(registry: Registry) -> None:
    registry.register("picky", PickySampler)
    pipe = builder().node("sampler", "runtime:picky", components={"denoiser": "denoiser", "scheduler": "scheduler"})
    built = pipe.build(registry=registry)
    with pytest.raises(IncompatibleSwapError, match=r"components: denoiser factor 10\.0 is above 5"):
        built.configure("denoiser", factor=10.0)
    assert built.nodes["denoiser"].config.factor == 2.0  # refused: unchanged
    with pytest.raises(PipelineError, match=r"denoiser factor 9\.0 is above 5"):
        builder().node("denoiser", "runtime:scale", factor=9.0).node(
            "sampler", "runtime:picky", components={"denoiser": "denoiser", "scheduler": "scheduler"}
        ).build(registry=registry)


class OptionalDenoiserSampler(Sampler):
    """The scheduler is required; the denoiser slot may stay unbound (then the velocity is the condition)."""

    @classmethod
    def optional_components(cls) -> frozenset[str]:
        return frozenset({"denoiser"})


def test_an_optional_slot_may_stay_unbound_but_a_required_one_may_not(registry: Registry) -> None:
    registry.register("optional", OptionalDenoiserSampler)
    spec = builder(scheduler="scheduler").spec().to_data()
    spec["nodes"]["sampler"]["particle"] = "runtime:optional"
    del spec["nodes"]["denoiser"]
    pipe = Pipeline.from_spec(spec, registry=registry)
    assert pipe.spec.nodes["sampler"].components == {"scheduler": "scheduler"}
    with pytest.raises(ComponentError, match=r"component 'denoiser' of .* is not bound"):
        pipe(condition=torch.tensor([[0.5, -1.0]]))  # calling an unbound optional slot still says which
    spec["nodes"]["sampler"]["components"] = {}
    with pytest.raises(PipelineError, match="needs a scheduler as component 'scheduler'"):
        Pipeline.from_spec(spec, registry=registry)
