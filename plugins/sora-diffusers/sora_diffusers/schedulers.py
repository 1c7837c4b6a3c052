"""diffusers' schedulers as sora scheduler particles.

``flow-match-euler`` (``FlowMatchEulerDiscreteScheduler``, Wan and LTX-Video), ``unipc-multistep``
(``UniPCMultistepScheduler``, Wan's default), ``cogvideox-ddim`` and ``cogvideox-dpm`` (CogVideoX). Each is
weightless: its config is the library scheduler's ``scheduler_config.json`` (``scheduler``) and the default
number of ``steps``. :meth:`sample` runs a whole sampling loop with a fresh library scheduler, as the family's
pipeline does, and calls ``model(sample, t)`` with ``t`` the step's fraction of the way to noise
(``timestep / 1000``), sora's convention, so sora's samplers and these schedulers drive the same denoisers.
The prediction type comes from the config: flow schedulers integrate the flow velocity (``velocity``, as
sora's rectified-flow schedulers), DDPM-style ones ``epsilon``, ``v_prediction`` or ``sample``.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import torch
from pydantic import Field
from torch import Tensor

from sora_core.config import ParticleConfig
from sora_core.errors import ConfigError
from sora_core.interfaces import Scheduler
from sora_core.ports import PortSpec
from sora_diffusers import folders
from sora_diffusers.base import merge_overrides

#: diffusers' prediction types by the names sora schedulers and denoisers use.
PREDICTION_TYPES = {
    "flow_prediction": "velocity",
    "epsilon": "epsilon",
    "v_prediction": "v_prediction",
    "sample": "sample",
}


class LibrarySchedulerConfig(ParticleConfig):
    steps: int = Field(50, ge=1, le=10_000, description="default sampling steps")
    scheduler: dict[str, Any] = Field(default_factory=dict, description="the scheduler_config.json fields")


class LibraryScheduler(Scheduler):
    """A diffusers scheduler class, configured by ``scheduler``, run one whole loop at a time."""

    weights_format: ClassVar[str] = "diffusers"
    library_classes: ClassVar[tuple[str, ...]] = ()
    defaults: ClassVar[dict[str, Any]] = {}
    Config = LibrarySchedulerConfig
    config: LibrarySchedulerConfig

    def __init__(self, config: ParticleConfig | dict[str, Any] | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        try:
            library = self.library()  # a config the library refuses is refused now, not mid-run
        except (TypeError, ValueError, KeyError, NotImplementedError) as exc:
            raise ConfigError(
                f"{self.display_name()}: the scheduler config does not build a {self.library_classes[0]}: "
                f"{type(exc).__name__}: {str(exc)[:200]}",
                "check the folder's scheduler/scheduler_config.json (or the particle's `scheduler` config)",
            ) from None
        self._prototype = library
        kind = library.config.get("prediction_type", "flow_prediction")
        self._prediction_type = PREDICTION_TYPES.get(kind, kind)
        self._alphas = getattr(library, "alphas_cumprod", None)

    # --- the library scheduler ------------------------------------------------------------------------------

    def library_class(self) -> Any:
        raise NotImplementedError

    def library(self) -> Any:
        """A fresh library scheduler for one sampling run (they keep per-run state): a copy of the one built from
        the config (copying is a quarter of the cost of building); its tables live on the CPU even while a pipeline
        is being drawn on the meta device."""
        prototype = self.__dict__.get("_prototype")
        if prototype is not None:
            return copy.deepcopy(prototype)
        with torch.device("cpu"):
            return self.library_class().from_config({**self.defaults, **self.config.scheduler})

    @property
    def prediction_type(self) -> str:  # type: ignore[override]
        """``velocity`` (flow schedulers), ``epsilon``, ``v_prediction`` or ``sample``, from the config."""
        return self._prediction_type

    # --- weights: the scheduler/ folder ---------------------------------------------------------------------

    @classmethod
    def from_pretrained(
        cls,
        directory: str | os.PathLike[str],
        *,
        dtype: Any = None,
        device: Any = None,
        verify: bool = True,
        overrides: dict[str, Any] | None = None,
    ) -> LibraryScheduler:
        path = Path(directory)
        if not folders.is_diffusers_component(path):
            return super().from_pretrained(path, dtype=dtype, device=device, verify=verify, overrides=overrides)
        return cls(merge_overrides(cls.pretrained_config(path), overrides, "scheduler"))

    @classmethod
    def pretrained_config(cls, directory: str | os.PathLike[str]) -> dict[str, Any]:
        path = Path(directory)
        if not folders.is_diffusers_component(path):
            return super().pretrained_config(path)
        config = folders.component_config(path, folders.locate(path), cls.library_classes, "_class_name")
        return {"scheduler": {k: v for k, v in config.items() if not k.startswith("_")}}

    @classmethod
    def pretrained_files(cls, directory: str | os.PathLike[str]) -> list[str] | None:
        path = Path(directory)
        return [folders.SCHEDULER_CONFIG] if folders.is_diffusers_component(path) else None

    # --- sampling -------------------------------------------------------------------------------------------

    def prepare(self, scheduler: Any, steps: int, noise: Tensor) -> None:
        """Set the run's timesteps (families that shift them by the video's size override this)."""
        scheduler.set_timesteps(steps, device=noise.device)

    def timesteps(self, num_steps: int | None = None) -> list[float]:
        """The fractions ``timestep / 1000`` of a run of ``num_steps`` (then 0, the data)."""
        scheduler = self.library()
        steps = num_steps or self.config.steps
        self.prepare(scheduler, steps, torch.zeros(1, 1, 1, 1, 1))
        total = scheduler.config.num_train_timesteps
        return [float(t) / total for t in scheduler.timesteps] + [0.0]

    def step(self, prediction: Tensor, t: float | Tensor, t_next: float | Tensor, sample: Tensor) -> Tensor:
        """One deterministic first-order step from ``t`` to ``t_next`` (floats, or one per item): Euler along the
        flow velocity, or a DDIM step for ``epsilon`` / ``v_prediction`` / ``sample`` models. A whole run is
        :meth:`sample`, which keeps the library scheduler's multistep state; this is for one-off steps."""
        now, later = _per_item(t, sample), _per_item(t_next, sample)
        kind = self.prediction_type
        if kind == "velocity":
            return sample + (later - now) * prediction
        alphas = self._alphas.to(sample.device, torch.float64)
        total = len(alphas)

        def alpha_bar(time: Tensor) -> Tensor:
            index = (time.double() * total).round().clamp(max=total - 1).long()
            return torch.where(time > 0, alphas[index], torch.ones_like(time, dtype=torch.float64)).to(sample.dtype)

        a_now, a_next = alpha_bar(now), alpha_bar(later)
        if kind == "v_prediction":
            x0 = a_now.sqrt() * sample - (1 - a_now).sqrt() * prediction
            eps = (1 - a_now).sqrt() * sample + a_now.sqrt() * prediction
        elif kind == "epsilon":
            eps = prediction
            x0 = (sample - (1 - a_now).sqrt() * eps) / a_now.sqrt()
        else:
            x0 = prediction
            eps = (sample - a_now.sqrt() * x0) / (1 - a_now).sqrt().clamp(min=1e-12)
        return a_next.sqrt() * x0 + (1 - a_next).sqrt() * eps

    def sample(
        self,
        model: Callable[[Tensor, float], Tensor],
        noise: Tensor,
        num_steps: int | None = None,
        progress: bool | None = None,
    ) -> Tensor:
        """The whole loop from ``noise``: ``model(sample, t)`` returns the prediction at fraction ``t``."""
        from sora_core.progress import track

        scheduler = self.library()
        steps = num_steps or self.config.steps
        self.prepare(scheduler, steps, noise)
        if hasattr(scheduler, "set_begin_index"):
            scheduler.set_begin_index(0)
        total = scheduler.config.num_train_timesteps
        sample = noise * getattr(scheduler, "init_noise_sigma", 1.0)  # CogVideoX's pipeline scales by it
        timesteps = scheduler.timesteps
        previous: Tensor | None = None
        for i, t in track(list(enumerate(timesteps)), total=len(timesteps), description="sampling", show=progress):
            model_input = scheduler.scale_model_input(sample, t) if hasattr(scheduler, "scale_model_input") else sample
            prediction = model(model_input, float(t) / total)
            sample, previous = self.advance(scheduler, prediction, t, timesteps, i, sample, previous)
            sample = sample.to(noise.dtype)  # the loop keeps the noise's dtype (CogVideoX: the text's)
        return sample

    def advance(
        self, scheduler: Any, prediction: Tensor, t: Tensor, timesteps: Tensor, i: int, sample: Tensor, previous: Any
    ) -> tuple[Tensor, Any]:
        """One library step; returns the new sample and whatever the next step needs."""
        return scheduler.step(prediction, t, sample, return_dict=False)[0], None

    # --- ports: one step for a batch, each item at its own time (a sampling run is sample()) --------------------

    def input_ports(self) -> dict[str, PortSpec]:
        return {
            "sample": PortSpec("float32", "B ...", description="the sample x_t"),
            "prediction": PortSpec("float32", "B ...", description="the model's prediction at (x_t, t)"),
            "t": PortSpec("float32", "B", description="each item's current time in [0, 1]"),
            "t_next": PortSpec("float32", "B", description="each item's time to step to"),
        }

    def output_ports(self) -> dict[str, PortSpec]:
        return {"sample": PortSpec("float32", "B ...", description="the sample at t_next")}

    @classmethod
    def example_inputs(cls, config: LibrarySchedulerConfig, batch: int, generator: torch.Generator) -> dict[str, Any]:
        t = torch.rand(batch, generator=generator) * 0.5 + 0.5
        return {"t": t, "t_next": t - 0.25}

    def forward(self, sample: Tensor, prediction: Tensor, t: Tensor, t_next: Tensor) -> dict[str, Tensor]:
        return {"sample": self.step(prediction, t, t_next, sample)}


def _per_item(time: float | Tensor, sample: Tensor) -> Tensor:
    """``time`` as a tensor broadcasting over ``sample``: a float, or one value per batch item."""
    value = torch.as_tensor(time, dtype=sample.dtype, device=sample.device)
    return value.reshape(-1, *[1] * (sample.dim() - 1)) if value.dim() == 1 else value


class FlowMatchEuler(LibraryScheduler):
    """``FlowMatchEulerDiscreteScheduler``: Euler steps of the flow ODE, with a static or size-dependent shift.

    With ``use_dynamic_shifting`` (LTX-Video), the shift follows the latent's size as LTX-Video's pipeline
    sets it: sigmas ``linspace(1, 1/n, n)`` and ``mu`` interpolated between ``base_shift`` at
    ``base_image_seq_len`` tokens and ``max_shift`` at ``max_image_seq_len``.
    """

    library_classes = ("FlowMatchEulerDiscreteScheduler",)
    defaults: ClassVar[dict[str, Any]] = {"shift": 3.0}
    description = "diffusers FlowMatchEulerDiscreteScheduler (Wan, LTX-Video): flow-matching Euler steps"

    def library_class(self) -> Any:
        from diffusers import FlowMatchEulerDiscreteScheduler

        return FlowMatchEulerDiscreteScheduler

    def prepare(self, scheduler: Any, steps: int, noise: Tensor) -> None:
        import numpy as np

        cfg = scheduler.config
        if not cfg.use_dynamic_shifting:
            scheduler.set_timesteps(steps, device=noise.device)
            return
        tokens = math.prod(noise.shape[2:])
        slope = (cfg.max_shift - cfg.base_shift) / (cfg.max_image_seq_len - cfg.base_image_seq_len)
        mu = tokens * slope + cfg.base_shift - slope * cfg.base_image_seq_len
        scheduler.set_timesteps(sigmas=np.linspace(1.0, 1 / steps, steps), mu=mu, device=noise.device)


class UniPCMultistep(LibraryScheduler):
    """``UniPCMultistepScheduler``, Wan's default (flow sigmas and prediction, ``flow_shift``)."""

    library_classes = ("UniPCMultistepScheduler",)
    defaults: ClassVar[dict[str, Any]] = {
        "prediction_type": "flow_prediction",
        "use_flow_sigmas": True,
        "flow_shift": 3.0,
    }
    description = "diffusers UniPCMultistepScheduler (Wan's default): a multistep predictor-corrector solver"

    def library_class(self) -> Any:
        from diffusers import UniPCMultistepScheduler

        return UniPCMultistepScheduler


class CogVideoXDDIM(LibraryScheduler):
    """``CogVideoXDDIMScheduler``: DDIM steps for CogVideoX's v-prediction (zero-SNR betas, trailing steps)."""

    library_classes = ("CogVideoXDDIMScheduler",)
    defaults: ClassVar[dict[str, Any]] = {
        "prediction_type": "v_prediction",
        "rescale_betas_zero_snr": True,
        "timestep_spacing": "trailing",
        "clip_sample": False,
    }
    description = "diffusers CogVideoXDDIMScheduler (CogVideoX): DDIM steps, v-prediction"

    def library_class(self) -> Any:
        from diffusers import CogVideoXDDIMScheduler

        return CogVideoXDDIMScheduler


class CogVideoXDPM(CogVideoXDDIM):
    """``CogVideoXDPMScheduler``: CogVideoX's DPM-Solver++ steps (each reads the previous step's estimate)."""

    library_classes = ("CogVideoXDPMScheduler",)
    description = "diffusers CogVideoXDPMScheduler (CogVideoX): DPM-Solver++ steps, v-prediction"
    stochastic: ClassVar[bool] = True

    def library_class(self) -> Any:
        from diffusers import CogVideoXDPMScheduler

        return CogVideoXDPMScheduler

    def advance(
        self, scheduler: Any, prediction: Tensor, t: Tensor, timesteps: Tensor, i: int, sample: Tensor, previous: Any
    ) -> tuple[Tensor, Any]:
        # Each step draws fresh noise of the sample's shape. CogVideoX's latents are (B, t, c, h, w), sora's
        # (B, c, t, h, w): step on the frames-first view so a seed draws the step noise in CogVideoX's order
        # (the estimate is kept frames-first between steps).
        back = timesteps[i - 1] if i > 0 else None
        frames_first = sample.ndim == 5
        if frames_first:
            prediction, sample = prediction.transpose(1, 2), sample.transpose(1, 2)
        new, estimate = scheduler.step(prediction, previous, t, back, sample, return_dict=False)
        return (new.transpose(1, 2) if frames_first else new), estimate
