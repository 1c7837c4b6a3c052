"""Rectified-flow samplers: ``rectified-flow-euler`` and ``rectified-flow-heun`` (velocity prediction).

Time runs from 1 (pure noise) to 0 (data): ``x_t = (1 - t) x0 + t noise`` and the denoiser
predicts the velocity ``v = noise - x0``, so ``dx/dt = v`` and a step from ``t`` to
``t_next`` integrates that ODE. Both are weightless and saved as their config alone.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import torch
from pydantic import Field
from torch import Tensor

from sora_core.config import ParticleConfig
from sora_core.errors import ConfigError
from sora_core.interfaces import Scheduler
from sora_core.ports import PortSpec
from sora_dit.naming import label


class RectifiedFlowConfig(ParticleConfig):
    """Default number of steps and the timestep shift."""

    steps: int = Field(20, ge=1, le=10_000, description="default sampling steps")
    shift: float = Field(
        1.0, gt=0, description="timestep shift t' = s t / (1 + (s - 1) t); above 1 spends more steps near noise"
    )


def _per_item(delta: float | Tensor, sample: Tensor) -> Tensor:
    """``delta`` as a tensor that broadcasts over ``sample``: a float, or one value per batch item."""
    delta = torch.as_tensor(delta, dtype=sample.dtype, device=sample.device)
    if delta.dim() == 1:
        delta = delta.reshape(-1, *[1] * (sample.dim() - 1))
    return delta


class RectifiedFlowEuler(Scheduler):
    """Euler steps of the rectified-flow ODE: ``sample + (t_next - t) * velocity``.

    One model evaluation per step. Exact for straight flows (a single data point), so a
    well-trained rectified flow needs few steps. ``forward`` takes one step for a batch,
    each item at its own time (what a training or distillation loop calls); a whole
    sampling run is :meth:`sample` (``model(sample, t) -> velocity``).
    """

    Config = RectifiedFlowConfig
    config: RectifiedFlowConfig
    prediction_type = "velocity"
    description = "rectified-flow Euler sampler (1 evaluation per step) with a timestep shift"

    def timesteps(self, num_steps: int | None = None) -> list[float]:
        """``num_steps + 1`` times from 1 to 0 (shifted): step ``i`` goes from ``[i]`` to ``[i + 1]``."""
        steps = self.config.steps if num_steps is None else num_steps
        if steps < 1:
            raise ConfigError(
                f"{label(self)}: a sampling run needs at least 1 step, got {steps}",
                "pass num_steps >= 1, or set the scheduler's `steps`",
            )
        shift = self.config.shift
        times = [1.0 - i / steps for i in range(steps + 1)]
        return [shift * t / (1.0 + (shift - 1.0) * t) for t in times]

    def step(self, prediction: Tensor, t: float | Tensor, t_next: float | Tensor, sample: Tensor) -> Tensor:
        """Move ``sample`` from time ``t`` to ``t_next`` (floats, or one per item) along ``prediction``."""
        return sample + _per_item(t_next - t, sample) * prediction

    def input_ports(self) -> dict[str, PortSpec]:
        return {
            "sample": PortSpec("float32", "B ...", description="the sample x_t"),
            "prediction": PortSpec("float32", "B ...", description="the velocity at (x_t, t)"),
            "t": PortSpec("float32", "B", description="each item's current time"),
            "t_next": PortSpec("float32", "B", description="each item's time to step to"),
        }

    def output_ports(self) -> dict[str, PortSpec]:
        return {"sample": PortSpec("float32", "B ...", description="the sample at t_next")}

    @classmethod
    def example_inputs(cls, config: RectifiedFlowConfig, batch: int, generator: torch.Generator) -> dict[str, Any]:
        """Times in [0, 1] stepping towards the data, as in a sampling run."""
        t = torch.rand(batch, generator=generator) * 0.5 + 0.5
        return {"t": t, "t_next": t - 0.25}

    def forward(self, sample: Tensor, prediction: Tensor, t: Tensor, t_next: Tensor) -> dict[str, Tensor]:
        return {"sample": self.step(prediction, t, t_next, sample)}


class RectifiedFlowHeun(RectifiedFlowEuler):
    """Heun's second-order method: an Euler predictor, then the average of the two velocities.

    ``x' = x + dt v(x, t)``, ``x_next = x + dt (v(x, t) + v(x', t_next)) / 2``: two model
    evaluations per step, except the last step to ``t = 0``, which is plain Euler (the
    velocity at pure data is not evaluated), so ``n`` steps cost ``2n - 1`` evaluations.
    Error shrinks as ``1/n^2`` against Euler's ``1/n``. ``forward`` takes the corrector
    step when ``next_prediction`` (the velocity at the Euler-predicted point) is given,
    else the Euler predictor step.
    """

    description = "rectified-flow Heun sampler (2 evaluations per step, last step Euler) with a timestep shift"

    def input_ports(self) -> dict[str, PortSpec]:
        return {
            **super().input_ports(),
            "next_prediction": PortSpec(
                "float32", "B ...", optional=True, description="the velocity at the Euler-predicted point and t_next"
            ),
        }

    def correct(
        self, prediction: Tensor, next_prediction: Tensor, t: float | Tensor, t_next: float | Tensor, sample: Tensor
    ) -> Tensor:
        """Heun's corrector: step along the mean of the velocity at ``t`` and at the predicted point."""
        return sample + _per_item(t_next - t, sample) * (prediction + next_prediction) / 2

    def forward(  # type: ignore[override]
        self, sample: Tensor, prediction: Tensor, t: Tensor, t_next: Tensor, next_prediction: Tensor | None = None
    ) -> dict[str, Tensor]:
        if next_prediction is None:
            return {"sample": self.step(prediction, t, t_next, sample)}
        return {"sample": self.correct(prediction, next_prediction, t, t_next, sample)}

    def sample(
        self,
        model: Callable[[Tensor, float], Tensor],
        noise: Tensor,
        num_steps: int | None = None,
        progress: bool | None = None,
    ) -> Tensor:
        """Integrate from ``noise`` at ``t = 1`` to ``t = 0`` with Heun steps (the last one Euler)."""
        from sora_core.progress import track

        times = self.timesteps(num_steps)
        pairs = list(itertools.pairwise(times))
        sample = noise
        for t, t_next in track(pairs, total=len(pairs), description="sampling (heun)", show=progress):
            velocity = model(sample, t)
            predicted = self.step(velocity, t, t_next, sample)
            if t_next > 0.0:  # the last step, to t = 0, stays Euler
                predicted = self.correct(velocity, model(predicted, t_next), t, t_next, sample)
            sample = predicted
        return sample
