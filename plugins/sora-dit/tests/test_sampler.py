"""latent-sampler and cfg-prompts: guidance, components, seeds, config validation and refusals."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import torch

from sora_core import registry
from sora_core.config import ParticleConfig
from sora_core.errors import ComponentError, ConfigError, PipelineError, PortError
from sora_core.interfaces import Denoiser
from sora_core.ports import PortSpec

SAMPLER, PROMPTS = "sora-dit:latent-sampler", "sora-dit:cfg-prompts"
SMALL = {"frames": 5, "height": 16, "width": 24}  # latent (c=8, t=2, h=4, w=6)


class ToyConfig(ParticleConfig):
    text_dim: int = 256
    prediction: str = "velocity"


class ToyDenoiser(Denoiser):
    """Velocity = the first feature of each item's first text token, everywhere; records its calls."""

    Config = ToyConfig
    calls: ClassVar[list[tuple[int, float]]] = []

    def input_ports(self) -> dict[str, PortSpec]:
        return {
            "latent": PortSpec("float32", "B c=8 t h w", space="latent/sora-causal-vae-c8t4s4@1"),
            "timestep": PortSpec("float32", "B"),
            "condition": PortSpec("float32", f"B L D={self.config.text_dim}", space="text/sora-byte-transformer@1"),
            "condition_mask": PortSpec("bool", "B L", optional=True),
        }

    def output_ports(self) -> dict[str, PortSpec]:
        return {"prediction": PortSpec("float32", "B c=8 t h w")}

    def forward(self, latent: Any, timestep: Any, condition: Any, condition_mask: Any = None) -> dict[str, Any]:
        self.calls.append((latent.shape[0], float(timestep[0])))
        return {"prediction": torch.zeros_like(latent) + condition[:, 0, 0].view(-1, 1, 1, 1, 1)}


def sampler(denoiser: Any = None, scheduler: str = "sora-dit:rectified-flow-euler", **config: Any) -> Any:
    particle = registry.create(SAMPLER, **{**SMALL, **config})
    if denoiser is None:
        torch.manual_seed(0)
        denoiser = registry.create("sora-dit:dit-denoiser", hidden_size=32, depth=1, heads=2, zero_init=False).eval()
    particle.bind_components({"denoiser": denoiser, "scheduler": registry.create(scheduler, steps=3)})
    return particle


def conditions(batch: int = 2, length: int = 4) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    return {
        "condition": torch.randn(2 * batch, length, 256, generator=generator),
        "condition_mask": torch.ones(2 * batch, length, dtype=torch.bool),
    }


def run(particle: Any, seed: int = 0, **inputs: Any) -> torch.Tensor:
    torch.manual_seed(seed)
    with torch.inference_mode():
        return particle(**(inputs or conditions()))["latent"]


def test_ports_follow_the_vae_and_the_video_size() -> None:
    default = registry.create(SAMPLER)
    assert default.stochastic and default.kind == "latent_sampler"
    assert type(default).component_kinds() == {
        "denoiser": "denoiser",
        "scheduler": "scheduler",
        "scorer": "video_text_scorer",
    }
    assert type(default).optional_components() == {"scorer"}
    assert str(default.output_ports()["latent"]) == "float32[B c=8 t=3 h=16 w=16] @ latent/sora-causal-vae-c8t4s4@1"
    assert str(default.input_ports()["condition"]) == "float32[N L D=256] @ text/sora-byte-transformer@1"
    other = registry.create(SAMPLER, latent_channels=4, temporal_compression=2, spatial_compression=8, frames=7)
    assert str(other.output_ports()["latent"]) == "float32[B c=4 t=4 h=8 w=8] @ latent/sora-causal-vae-c4t2s8@1"
    assert registry.create(SAMPLER, latent_space="latent/other@3").output_ports()["latent"].space == "latent/other@3"


@pytest.mark.parametrize(
    ("config", "field", "words"),
    [
        ({"frames": 10}, "frames", "1 + k * temporal_compression (4)"),
        ({"frames": 9, "patch_t": 2}, "frames", "3 latent frames, not a multiple of patch_t=2"),
        ({"height": 60}, "height", "spatial_compression * patch (4 * 2 = 8)"),
        ({"width": 36, "patch_w": 1, "spatial_compression": 8}, "width", "(8 * 1 = 8)"),
        ({"guidance_scale": -1.0}, "guidance_scale", "greater than or equal to 0"),
        ({"steps": 0}, "steps", "greater than or equal to 1"),
        ({"text_space": "text"}, "text_space", "invalid space tag"),
        ({"guidance_interval": [0.8, 0.2]}, "guidance_interval", "0 <= low <= high <= 1, got (0.8, 0.2)"),
        ({"guidance_interval": [0.0, 1.5]}, "guidance_interval", "got (0.0, 1.5)"),
        ({"guidance_schedule": [[1.5, 2.0]]}, "guidance_schedule", "0 <= time <= 1 and scale >= 0, got (1.5, 2.0)"),
        ({"guidance_schedule": [[0.5, -1.0]]}, "guidance_schedule", "got (0.5, -1.0)"),
        ({"guidance_schedule": [[0.5, 2.0], [0.5, 3.0]]}, "guidance_schedule", "times must differ"),
        ({"guidance_schedule": [[0.5]]}, "guidance_schedule.0.1", "Field required"),
        ({"trained_range": [[9, 25], [96, 64], [64, 96]]}, "trained_range", "height needs 1 <= min <= max, got [96"),
        ({"trained_range": [[0, 25], [64, 96], [64, 96]]}, "trained_range", "frames needs 1 <= min <= max"),
        ({"trained_range": [[9, 25], [64, 96], [64, -1]]}, "trained_range", "width needs 1 <= min <= max"),
        ({"trained_range": [[9, 25], [64, 96]]}, "trained_range", "must be [[min_frames, max_frames], [min_height"),
        ({"trained_range": [[9, 25, 33], [64, 96], [64, 96]]}, "trained_range", "[min_width, max_width]]"),
        ({"trained_range": [9, 25]}, "trained_range", "must be [[min_frames, max_frames]"),
        ({"trained_range": [[9, "many"], [64, 96], [64, 96]]}, "trained_range.0.1", "valid integer"),
    ],
)
def test_bad_configs_are_refused_naming_the_field(config: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        registry.create(SAMPLER, **config)
    assert f"field {field!r}" in caught.value.message and words in caught.value.message


@pytest.mark.parametrize("scale", [0.0, 1.0, 2.5, 4.0])
def test_guidance_mixes_the_conditional_and_unconditional_velocities(scale: float) -> None:
    ToyDenoiser.calls.clear()
    particle = sampler(ToyDenoiser(), guidance_scale=scale, steps=1)
    given = conditions()
    latent = run(particle, **given)
    torch.manual_seed(0)
    noise = torch.randn(2, 8, 2, 4, 6)
    conditional, unconditional = given["condition"][:2, 0, 0], given["condition"][2:, 0, 0]
    velocity = conditional if scale == 1.0 else unconditional + scale * (conditional - unconditional)
    torch.testing.assert_close(latent, noise - velocity.view(2, 1, 1, 1, 1))  # one Euler step from t = 1 to 0
    assert ToyDenoiser.calls == [(2 if scale == 1.0 else 4, 1.0)]  # one denoiser call per evaluation


def test_guidance_applies_only_inside_its_interval() -> None:
    ToyDenoiser.calls.clear()
    particle = sampler(ToyDenoiser(), guidance_scale=4.0, guidance_interval=(0.0, 0.5))
    given = conditions()
    latent = run(particle, **given)
    times = particle.component("scheduler").timesteps(3)  # 1, 2/3, 1/3, 0
    assert [rows for rows, _ in ToyDenoiser.calls] == [2, 2, 4]  # the unguided calls skip the empty rows
    assert [t for _, t in ToyDenoiser.calls] == pytest.approx(times[:3])
    torch.manual_seed(0)
    noise = torch.randn(2, 8, 2, 4, 6)
    conditional, unconditional = given["condition"][:2, 0, 0], given["condition"][2:, 0, 0]
    guided = unconditional + 4.0 * (conditional - unconditional)
    velocity = (times[0] - times[2]) * conditional + (times[2] - times[3]) * guided
    torch.testing.assert_close(latent, noise - velocity.view(2, 1, 1, 1, 1))


def test_a_guidance_schedule_sets_the_scale_from_its_times_up() -> None:
    ToyDenoiser.calls.clear()
    schedule = [(0.5, 3.0), (0.9, 1.0)]  # t >= 0.9: unguided; 0.5 <= t < 0.9: 3; below: guidance_scale
    particle = sampler(ToyDenoiser(), guidance_scale=4.0, guidance_schedule=schedule)
    assert particle.config.guidance_schedule == ((0.9, 1.0), (0.5, 3.0))
    assert [particle.config.guidance_at(t) for t in (1.0, 0.9, 0.7, 0.5, 0.2)] == [1.0, 1.0, 3.0, 3.0, 4.0]
    given = conditions()
    latent = run(particle, **given)
    times = particle.component("scheduler").timesteps(3)  # 1, 2/3, 1/3, 0
    assert [rows for rows, _ in ToyDenoiser.calls] == [2, 4, 4]
    torch.manual_seed(0)
    noise = torch.randn(2, 8, 2, 4, 6)
    conditional, unconditional = given["condition"][:2, 0, 0], given["condition"][2:, 0, 0]

    def guided(scale: float) -> torch.Tensor:
        return unconditional + scale * (conditional - unconditional)

    velocity = (times[0] - times[1]) * conditional + (times[1] - times[2]) * guided(3.0)
    velocity = velocity + (times[2] - times[3]) * guided(4.0)
    torch.testing.assert_close(latent, noise - velocity.view(2, 1, 1, 1, 1))


def test_the_interval_overrides_the_schedule() -> None:
    particle = sampler(ToyDenoiser(), guidance_schedule=[(0.2, 2.0)], guidance_interval=(0.0, 0.5))
    assert [particle.config.guidance_at(t) for t in (0.9, 0.5, 0.3, 0.1)] == [1.0, 2.0, 2.0, 4.0]


def test_scale_one_equals_sampling_with_the_conditional_half_alone() -> None:
    particle = sampler(guidance_scale=1.0)
    given = conditions()
    latent = run(particle, **given)
    other_negatives = {k: v.clone() for k, v in given.items()}
    other_negatives["condition"][2:] = torch.randn(2, 4, 256)
    torch.testing.assert_close(run(particle, **other_negatives), latent, rtol=0, atol=0)
    denoiser, scheduler = particle.component("denoiser"), particle.component("scheduler")
    torch.manual_seed(0)
    noise = torch.randn(2, 8, 2, 4, 6)
    cond, mask = given["condition"][:2], given["condition_mask"][:2]
    with torch.inference_mode():
        alone = scheduler.sample(
            lambda x, t: denoiser(latent=x, timestep=torch.full((2,), t), condition=cond, condition_mask=mask)[
                "prediction"
            ],
            noise,
            progress=False,
        )
    torch.testing.assert_close(latent, alone)
    assert not torch.allclose(run(sampler(guidance_scale=4.0), **given), latent)


def test_seeds_reproduce_and_differ() -> None:
    particle = sampler()
    first = run(particle, seed=0)
    assert first.shape == (2, 8, 2, 4, 6) and first.dtype == torch.float32
    assert torch.equal(run(particle, seed=0), first)
    assert not torch.allclose(run(particle, seed=1), first)


def test_swapping_the_scheduler_changes_the_result() -> None:
    euler = run(sampler())
    heun = run(sampler(scheduler="sora-dit:rectified-flow-heun"))
    assert torch.isfinite(heun).all() and not torch.allclose(euler, heun)


def test_it_samples_on_the_denoisers_dtype_and_returns_float32() -> None:
    torch.manual_seed(0)
    denoiser = registry.create("sora-dit:dit-denoiser", hidden_size=32, depth=1, heads=2, zero_init=False)
    latent = run(sampler(denoiser.double().eval()))
    assert latent.dtype == torch.float32
    torch.testing.assert_close(latent, run(sampler()), rtol=1e-4, atol=1e-4)


def test_bfloat16_compute_stays_close_to_float32_and_returns_float32() -> None:
    exact = run(sampler())
    fast = run(sampler(compute_dtype="bfloat16"))
    assert fast.dtype == torch.float32 and not torch.equal(fast, exact)
    torch.testing.assert_close(fast, exact, rtol=0.05, atol=0.05)


def test_auto_compute_is_bfloat16_only_where_the_device_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from sora_dit import sampler as module

    exact, fast = run(sampler()), run(sampler(compute_dtype="bfloat16"))
    monkeypatch.setattr(module, "bfloat16_is_native", lambda device: False)
    assert torch.equal(run(sampler(compute_dtype="auto")), exact)
    monkeypatch.setattr(module, "bfloat16_is_native", lambda device: True)
    assert torch.equal(run(sampler(compute_dtype="auto")), fast)


def test_an_unknown_compute_dtype_is_refused_naming_the_field() -> None:
    with pytest.raises(ConfigError, match="compute_dtype"):
        registry.create(SAMPLER, compute_dtype="float16")


def test_unbound_components_are_named() -> None:
    particle = registry.create(SAMPLER, **SMALL)
    with pytest.raises(ComponentError, match=r"component 'denoiser' .* is not bound"):
        run(particle)
    particle.bind_components({"denoiser": ToyDenoiser()})
    with pytest.raises(ComponentError, match=r"component 'scheduler' .* is not bound"):
        run(particle)


def test_components_that_do_not_fit_are_refused_naming_both_specs() -> None:
    particle = registry.create(SAMPLER, **SMALL)
    with pytest.raises(ComponentError) as caught:
        particle.bind_components({"denoiser": ToyDenoiser(text_dim=384)})
    message = caught.value.message
    assert "input 'condition'" in message and "384" in message and "256" in message
    assert "float32[B L D=256] @ text/sora-byte-transformer@1" in message
    dit = registry.create("sora-dit:dit-denoiser", hidden_size=32, depth=1, heads=2, latent_space="latent/other@1")
    with pytest.raises(ComponentError, match="input 'latent': space differs: output is 'latent/sora-causal-vae"):
        particle.bind_components({"denoiser": dit})
    with pytest.raises(ComponentError, match="must be a denoiser"):
        particle.bind_components({"denoiser": registry.create("sora-dit:rectified-flow-euler")})


def test_a_scheduler_for_another_prediction_type_is_refused() -> None:
    class EpsilonEuler(type(registry.create("sora-dit:rectified-flow-euler"))):  # type: ignore[misc]
        prediction_type = "epsilon"

    particle = registry.create(SAMPLER, **SMALL)
    with pytest.raises(ComponentError, match=r"predicts velocity, but scheduler .* expects epsilon"):
        particle.bind_components({"denoiser": ToyDenoiser(), "scheduler": EpsilonEuler()})


def test_an_odd_number_of_condition_rows_is_refused() -> None:
    given = conditions()
    with pytest.raises(PortError, match=r"'condition' has 3 rows.*N = 2B") as caught:
        run(sampler(ToyDenoiser()), condition=given["condition"][:3])
    assert "cfg-prompts" in (caught.value.hint or "")


def test_cfg_prompts_appends_one_unconditional_prompt_per_prompt() -> None:
    prompts = registry.create(PROMPTS)
    assert prompts.kind == "prompt_batcher"
    assert prompts(prompt=["a red circle", "waves"])["text"] == ["a red circle", "waves", "", ""]
    assert prompts(prompt="one")["text"] == ["one", ""]
    negative = registry.create(PROMPTS, negative_prompt="blurry, static")
    assert negative(prompt=["a"])["text"] == ["a", "blurry, static"]
    for bad in ([], [1, 2], None):
        with pytest.raises(PortError, match="input 'prompt' must be a string or a list of strings"):
            prompts(prompt=bad)


def test_the_kinds_and_template_are_contributed() -> None:
    kinds = registry.kinds()
    assert kinds["latent_sampler"].contributed_by == "sora-dit"
    assert kinds["prompt_batcher"].inputs == ("prompt",)
    from sora_core.pipeline.pipeline import available_templates

    assert "t2v" in available_templates(registry.default_registry)


def sampling_pipeline(denoiser_config: dict[str, Any] | None = None) -> Any:
    from sora_core.pipeline import PipelineBuilder

    return (
        PipelineBuilder("sample")
        .node("denoiser", "sora-dit:dit-denoiser", hidden_size=32, depth=1, heads=2, **(denoiser_config or {}))
        .node("scheduler", "sora-dit:rectified-flow-heun", steps=2)
        .node("sampler", "sora-dit:latent-sampler", components={"denoiser": "denoiser", "scheduler": "scheduler"})
        .input("condition", "sampler.condition")
        .output("latent", "sampler.latent")
        .build(seed=0)
    )


def test_in_a_pipeline_the_components_are_bound_and_the_node_seeded() -> None:
    pipe = sampling_pipeline({"zero_init": False})
    condition = conditions(batch=1)["condition"]
    first = pipe.run({"condition": condition}, seed=0)["latent"]
    assert first.shape == (1, 8, 3, 16, 16)
    assert torch.equal(pipe.run({"condition": condition}, seed=0)["latent"], first)
    assert not torch.allclose(pipe.run({"condition": condition}, seed=1)["latent"], first)


def test_in_a_pipeline_a_denoiser_for_another_text_is_refused_when_the_graph_is_built() -> None:
    with pytest.raises(PipelineError) as caught:
        sampling_pipeline({"text_dim": 384, "text_space": "text/minilm-l6@1"})
    assert "'text/sora-byte-transformer@1'" in str(caught.value) and "'text/minilm-l6@1'" in str(caught.value)
