"""Euler and Heun on analytic velocity fields: exact on straight flows, converging (Heun faster) on curved ones."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
import torch

from sora_core import registry
from sora_core.errors import ConfigError
from sora_core.interfaces import Scheduler

EULER, HEUN = "sora-dit:rectified-flow-euler", "sora-dit:rectified-flow-heun"
Field = Callable[[torch.Tensor, float], torch.Tensor]


def create(name: str, **config: object) -> Scheduler:
    scheduler = registry.create(name, **config)
    assert isinstance(scheduler, Scheduler) and scheduler.prediction_type == "velocity"
    return scheduler


def straight_flow(target: torch.Tensor) -> Field:
    """The velocity of x_t = (1 - t) target + t noise, given x_t: straight lines from noise to ``target``."""
    return lambda x, t: (x - target) / t


MU, SIGMA = 1.5, 0.3


def gaussian_flow(x: torch.Tensor, t: float) -> torch.Tensor:
    """The exact velocity field carrying N(0, 1) at t = 1 to data N(MU, SIGMA^2) at t = 0 (curved paths)."""
    mean, std = (1 - t) * MU, ((1 - t) ** 2 * SIGMA**2 + t**2) ** 0.5
    return -MU + (t - (1 - t) * SIGMA**2) / std * (x - mean) / std


def gaussian_error(name: str, steps: int, noise: torch.Tensor) -> float:
    sample = create(name).sample(gaussian_flow, noise, num_steps=steps, progress=False)
    return (sample - (MU + SIGMA * noise)).abs().max().item()  # the flow maps noise z to MU + SIGMA z


@pytest.mark.parametrize("name", [EULER, HEUN])
def test_timesteps_run_from_noise_to_data(name: str) -> None:
    times = create(name, steps=4).timesteps()
    assert times == [1.0, 0.75, 0.5, 0.25, 0.0]
    assert len(create(name).timesteps(7)) == 8
    shifted = create(name, shift=3.0).timesteps(4)
    assert shifted[0] == 1.0 and shifted[-1] == 0.0
    assert all(a > b for a, b in itertools.pairwise(shifted))
    assert shifted[2] == pytest.approx(0.75)  # 3 * 0.5 / (1 + 2 * 0.5): more of the steps near the noise


@pytest.mark.parametrize("name", [EULER, HEUN])
@pytest.mark.parametrize("steps", [1, 3, 10])
def test_a_straight_flow_is_integrated_exactly(name: str, steps: int) -> None:
    target, noise = torch.randn(2, 3, 4), torch.randn(2, 3, 4)
    sample = create(name).sample(straight_flow(target), noise, num_steps=steps, progress=False)
    torch.testing.assert_close(sample, target, rtol=1e-5, atol=1e-5)


def test_on_a_curved_flow_errors_shrink_with_steps_and_heun_converges_faster() -> None:
    noise = torch.linspace(-2.5, 2.5, 11, dtype=torch.float64)
    euler = [gaussian_error(EULER, n, noise) for n in (4, 8, 16, 32)]
    heun = [gaussian_error(HEUN, n, noise) for n in (4, 8, 16, 32)]
    assert euler == sorted(euler, reverse=True) and heun == sorted(heun, reverse=True)
    assert all(h < e for h, e in zip(heun, euler, strict=True))
    assert euler[-2] / euler[-1] == pytest.approx(2.0, abs=0.4)  # first order: halving the step halves the error
    assert heun[-2] / heun[-1] > 3.0  # second order (its last step is Euler, so not quite 4)
    assert heun[-1] < 1e-2


def test_heun_evaluates_the_model_twice_per_step_but_once_on_the_last() -> None:
    calls: list[float] = []

    def model(x: torch.Tensor, t: float) -> torch.Tensor:
        calls.append(t)
        return torch.zeros_like(x)

    create(HEUN).sample(model, torch.zeros(1), num_steps=5, progress=False)
    assert len(calls) == 9 and 0.0 not in calls
    calls.clear()
    create(EULER).sample(model, torch.zeros(1), num_steps=5, progress=False)
    assert calls == [1.0, 0.8, 0.6, 0.4, pytest.approx(0.2)]


def test_the_configured_steps_are_the_default() -> None:
    calls: list[float] = []
    create(EULER, steps=3).sample(lambda x, t: calls.append(t) or x, torch.zeros(1), progress=False)
    assert len(calls) == 3


def test_forward_takes_one_step_per_item() -> None:
    euler, heun = create(EULER), create(HEUN)
    sample, velocity, other = torch.randn(3, 4, 2), torch.randn(3, 4, 2), torch.randn(3, 4, 2)
    t, t_next = torch.tensor([1.0, 0.5, 0.2]), torch.tensor([0.5, 0.25, 0.0])
    step = (t_next - t).view(3, 1, 1)
    torch.testing.assert_close(
        euler(sample=sample, prediction=velocity, t=t, t_next=t_next)["sample"], sample + step * velocity
    )
    torch.testing.assert_close(
        heun(sample=sample, prediction=velocity, t=t, t_next=t_next)["sample"], sample + step * velocity
    )
    corrected = heun(sample=sample, prediction=velocity, t=t, t_next=t_next, next_prediction=other)["sample"]
    torch.testing.assert_close(corrected, sample + step * (velocity + other) / 2)


def test_progress_can_be_forced_on(capsys: pytest.CaptureFixture[str]) -> None:
    out = create(HEUN).sample(straight_flow(torch.ones(2)), torch.zeros(2) + 3, num_steps=2, progress=True)
    torch.testing.assert_close(out, torch.ones(2))


@pytest.mark.parametrize("name", [EULER, HEUN])
def test_bad_settings_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="at least 1 step, got 0"):
        create(name).sample(gaussian_flow, torch.zeros(1), num_steps=0)
    with pytest.raises(ConfigError, match="shift"):
        create(name, shift=0.0)
    with pytest.raises(ConfigError, match="steps"):
        create(name, steps=0)
