"""``latent-sampler``: the sampling loop of text-to-video, with classifier-free guidance.

A weightless particle of the kind ``latent_sampler`` (contributed by sora-dit). Its
``denoiser`` and ``scheduler`` are **components**: other pipeline nodes, bound by the
pipeline (``components: {denoiser: denoiser, scheduler: scheduler}``), which it calls
once per model evaluation. Swapping either node by name changes the run. An optional third
component, ``scorer`` (a ``video_text_scorer``), reranks: with ``candidates: K`` it samples
K latents per prompt and keeps the one the scorer rates highest against the prompt.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from pydantic import Field, ValidationInfo, field_validator
from torch import Tensor

from sora_core import registry
from sora_core.config import ParticleConfig
from sora_core.errors import ComponentError, PortError, SoraWarning
from sora_core.particle import Particle, WeightlessParticle
from sora_core.ports import PortSpec, connection_problems
from sora_dit.hooks import LATENT_SAMPLER, VIDEO_TEXT_SCORER
from sora_dit.naming import label
from sora_dit.spaces import DEFAULT_TEXT_DIM, DEFAULT_TEXT_SPACE, causal_vae_latent_space, checked_space

TrainedRange = tuple[tuple[int, int], tuple[int, int], tuple[int, int]]


class LatentSamplerConfig(ParticleConfig):
    """The video to sample (in pixels, converted through the VAE's compression), guidance and steps."""

    latent_channels: int = Field(8, gt=0, description="latent channels (c) of the VAE")
    temporal_compression: int = Field(4, gt=0, description="frames per latent frame of the VAE (after the first)")
    spatial_compression: int = Field(4, gt=0, description="pixels per latent row/column of the VAE")
    patch_t: int = Field(1, gt=0, description="the denoiser's latent frames per patch")
    patch_h: int = Field(2, gt=0, description="the denoiser's latent rows per patch")
    patch_w: int = Field(2, gt=0, description="the denoiser's latent columns per patch")
    frames: int = Field(9, gt=0, description="video frames: 1 + k * temporal_compression")
    height: int = Field(64, gt=0, description="video height in pixels: a multiple of spatial_compression * patch_h")
    width: int = Field(64, gt=0, description="video width in pixels: a multiple of spatial_compression * patch_w")
    guidance_scale: float = Field(
        4.0, ge=0, description="classifier-free guidance scale; 1 disables guidance (the unconditional half is unused)"
    )
    guidance_interval: tuple[float, float] = Field(
        (0.0, 1.0),
        description="times (low, high) in [0, 1] where guidance applies; outside it the conditional prediction alone "
        "is used (guidance near pure noise tends to place extra copies of objects)",
    )
    guidance_schedule: tuple[tuple[float, float], ...] = Field(
        (),
        description="(time, scale) pairs: at times t >= time the pair's scale replaces guidance_scale (of the pairs "
        "that apply, the one with the highest time wins); e.g. ((0.9, 2.0),) guides near pure noise more gently",
    )
    steps: int | None = Field(None, ge=1, description="sampling steps; None uses the scheduler's")
    candidates: int = Field(
        1,
        ge=1,
        description="latents sampled per prompt; with more than 1 the bound scorer (a video_text_scorer) rates each "
        "against its prompt and the best is kept (costs that many times the sampling)",
    )
    latent_space: str | None = Field(
        None, description="space tag of the latent written; None: the causal VAE's for channels and compressions"
    )
    trained_size: tuple[int, int, int] | None = Field(
        None,
        description="(frames, height, width) the bound denoiser was trained at (the t2v template sets the shipped "
        "weights' 9 frames of 64x64); a video of other frames or size is sampled but warned about (a SoraWarning); "
        "None claims nothing",
    )
    trained_range: TrainedRange | None = Field(
        None,
        description="((min_frames, max_frames), (min_height, max_height), (min_width, max_width)) the bound denoiser "
        "was trained on; a video with frames, height or width outside its pair is sampled but warned about (a "
        "SoraWarning); replaces trained_size when both are set; None claims nothing",
    )
    text_dim: int = Field(DEFAULT_TEXT_DIM, gt=0, description="features per text token (D) the denoiser reads")
    text_space: str = Field(DEFAULT_TEXT_SPACE, description="space tag of the text embeddings the denoiser reads")
    compute_dtype: Literal["float32", "bfloat16", "auto"] = Field(
        "float32",
        description="precision of the denoiser's matrix products (torch autocast; weights and the sampled latent stay "
        "float32): bfloat16, float32, or auto: bfloat16 where the device computes it natively (a CPU with "
        "AVX512-BF16 or AMX, a CUDA GPU that supports it), else float32",
    )

    @field_validator("frames")
    @classmethod
    def _frames(cls, frames: int, info: ValidationInfo) -> int:
        temporal, patch = info.data.get("temporal_compression"), info.data.get("patch_t")
        if temporal and (frames - 1) % temporal:
            raise ValueError(f"frames must be 1 + k * temporal_compression ({temporal}): 1, {1 + temporal}, ...")
        if temporal and patch and (1 + (frames - 1) // temporal) % patch:
            raise ValueError(
                f"frames give {1 + (frames - 1) // temporal} latent frames, not a multiple of patch_t={patch}"
            )
        return frames

    @field_validator("height", "width")
    @classmethod
    def _pixels(cls, size: int, info: ValidationInfo) -> int:
        spatial = info.data.get("spatial_compression")
        patch = info.data.get("patch_h" if info.field_name == "height" else "patch_w")
        if spatial and patch and size % (spatial * patch):
            raise ValueError(
                f"must be a multiple of spatial_compression * patch ({spatial} * {patch} = {spatial * patch})"
            )
        return size

    @field_validator("trained_size")
    @classmethod
    def _trained(cls, size: tuple[int, int, int] | None) -> tuple[int, int, int] | None:
        if size is not None and min(size) < 1:
            raise ValueError(f"must be (frames, height, width), each at least 1, got {list(size)}")
        return size

    @field_validator("trained_range", mode="before")
    @classmethod
    def _trained_range_form(cls, ranges: object) -> object:
        pairs = ranges if isinstance(ranges, list | tuple) else ()
        if ranges is not None and (
            len(pairs) != 3 or not all(isinstance(p, list | tuple) and len(p) == 2 for p in pairs)
        ):
            raise ValueError("must be [[min_frames, max_frames], [min_height, max_height], [min_width, max_width]]")
        return ranges

    @field_validator("trained_range")
    @classmethod
    def _trained_range(cls, ranges: TrainedRange | None) -> TrainedRange | None:
        if ranges is None:
            return None
        for axis, (low, high) in zip(("frames", "height", "width"), ranges, strict=True):
            if not 1 <= low <= high:
                raise ValueError(f"{axis} needs 1 <= min <= max, got [{low}, {high}]")
        return ranges

    @field_validator("latent_space", "text_space")
    @classmethod
    def _space(cls, tag: str | None) -> str | None:
        return None if tag is None else checked_space(tag)

    @field_validator("guidance_interval")
    @classmethod
    def _interval(cls, interval: tuple[float, float]) -> tuple[float, float]:
        low, high = interval
        if not 0.0 <= low <= high <= 1.0:
            raise ValueError(f"must be (low, high) with 0 <= low <= high <= 1, got ({low}, {high})")
        return interval

    @field_validator("guidance_schedule")
    @classmethod
    def _schedule(cls, schedule: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
        for time, scale in schedule:
            if not 0.0 <= time <= 1.0 or scale < 0.0:
                raise ValueError(f"each (time, scale) needs 0 <= time <= 1 and scale >= 0, got ({time}, {scale})")
        times = [time for time, _ in schedule]
        if len(set(times)) != len(times):
            raise ValueError(f"times must differ, got {times}")
        return tuple(sorted(schedule, reverse=True))

    def guidance_at(self, t: float) -> float:
        """The guidance scale at time ``t``: the schedule's where a pair applies, else ``guidance_scale``; 1 (no
        guidance) outside ``guidance_interval``."""
        low, high = self.guidance_interval
        if not low <= t <= high:
            return 1.0
        return next((scale for time, scale in self.guidance_schedule if t >= time), self.guidance_scale)


class LatentSampler(WeightlessParticle):
    """Samples a latent video from noise for text conditions, with classifier-free guidance.

    ``condition`` ``(N, L, D)`` (and ``condition_mask``) hold ``N = 2B`` rows: the ``B``
    prompts, then ``B`` unconditional rows (``cfg-prompts`` and a text encoder make them).
    It draws noise ``(B, c, t, h, w)`` from torch's global RNG (the pipeline seeds it per
    node), and has its ``scheduler`` integrate the ``denoiser``'s velocity from ``t = 1``
    to ``0``. Each evaluation runs the denoiser once on the ``2B`` batch and guides:
    ``v = v_uncond + s (v_cond - v_uncond)``. With ``guidance_scale = 1`` only the first
    half is used and the denoiser runs on ``B`` rows; so it does at times outside
    ``guidance_interval`` (guidance in a limited interval, Kynkäänniemi et al. 2024).
    ``guidance_schedule`` sets other scales from given times up (a gentler scale near pure
    noise, where strong guidance places extra copies of objects). With ``candidates = K > 1``
    every prompt is sampled K times (noise ``(B K, c, t, h, w)``, candidate ``k`` of prompt
    ``b`` in row ``b K + k``, all in one batch) and the bound ``scorer`` picks each prompt's
    best; ``K = 1`` draws exactly the noise it always did.
    """

    kind: ClassVar[str] = LATENT_SAMPLER.name
    Config = LatentSamplerConfig
    config: LatentSamplerConfig
    stochastic: ClassVar[bool] = True
    description = "sampling loop: noise -> latent video with a bound denoiser and scheduler, classifier-free guidance"

    @classmethod
    def component_kinds(cls) -> dict[str, str]:
        return {"denoiser": "denoiser", "scheduler": "scheduler", "scorer": VIDEO_TEXT_SCORER.name}

    @classmethod
    def optional_components(cls) -> frozenset[str]:
        return frozenset({"scorer"})

    # --- sizes and ports ---------------------------------------------------------------------

    @property
    def latent_space(self) -> str:
        cfg = self.config
        return cfg.latent_space or causal_vae_latent_space(
            cfg.latent_channels, cfg.temporal_compression, cfg.spatial_compression
        )

    def latent_shape(self, batch: int) -> tuple[int, int, int, int, int]:
        """``(batch, c, t, h, w)`` of the latent sampled for ``batch`` prompts."""
        cfg = self.config
        frames = 1 + (cfg.frames - 1) // cfg.temporal_compression
        spatial = cfg.spatial_compression
        return batch, cfg.latent_channels, frames, cfg.height // spatial, cfg.width // spatial

    def input_ports(self) -> dict[str, PortSpec]:
        cfg = self.config
        return {
            "condition": PortSpec(
                "float32",
                f"N L D={cfg.text_dim}",
                space=cfg.text_space,
                description="text tokens of the B prompts, then of B unconditional prompts (N = 2B)",
            ),
            "condition_mask": PortSpec("bool", "N L", optional=True, description="valid text tokens"),
        }

    def output_ports(self) -> dict[str, PortSpec]:
        _, c, t, h, w = self.latent_shape(1)
        return {
            "latent": PortSpec(
                "float32", f"B c={c} t={t} h={h} w={w}", space=self.latent_space, description="the sampled latent"
            )
        }

    # --- components --------------------------------------------------------------------------

    def bind_components(self, components: Mapping[str, Particle]) -> None:
        """Bind the denoiser and scheduler; refuse ones that do not fit this sampler's latent and text."""
        super().bind_components(components)
        problems = self.component_problems(dict(components))
        if problems:
            raise ComponentError(
                f"{label(self)}: " + "; ".join(problems),
                "configure the sampler and its components for the same latent, text and prediction type, and bind a "
                "scorer when candidates > 1",
            )

    def component_problems(self, components: Mapping[str, Particle]) -> list[str]:
        """Every way ``components`` (slot -> particle) disagree with this sampler or with each other."""
        problems: list[str] = []
        denoiser, scheduler = components.get("denoiser"), components.get("scheduler")
        if denoiser is not None:
            ports = denoiser.input_ports()
            latent_shape = "B c={} t={} h={} w={}".format(*self.latent_shape(1)[1:])
            given = {
                "latent": PortSpec("float32", latent_shape, space=self.latent_space),
                "timestep": PortSpec("float32", "B"),
                "condition": PortSpec("float32", f"B L D={self.config.text_dim}", space=self.config.text_space),
            }
            for port, spec in given.items():
                if port not in ports:
                    problems.append(f"denoiser {label(denoiser)} has no input port {port!r}")
                    continue
                for problem in connection_problems(spec, ports[port]):
                    problems.append(
                        f"denoiser {label(denoiser)} input {port!r}: {problem} "
                        f"(the sampler passes {spec}, it accepts {ports[port]})"
                    )
        problems += self._scorer_problems(components.get("scorer"))
        if denoiser is not None and scheduler is not None:
            made, expected = getattr(denoiser, "prediction_type", None), getattr(scheduler, "prediction_type", None)
            if made != expected:
                problems.append(
                    f"denoiser {label(denoiser)} predicts {made}, but scheduler {label(scheduler)} expects {expected}"
                )
        return problems

    def _scorer_problems(self, scorer: Particle | None) -> list[str]:
        cfg = self.config
        if cfg.candidates == 1:  # a bound scorer is never called: swapping the text encoder must not trip on it
            return []
        if scorer is None:
            return [f"candidates={cfg.candidates} needs a scorer component (a {VIDEO_TEXT_SCORER.name}) to choose"]
        problems = []
        ports = scorer.input_ports()
        latent_shape = "B c={} t={} h={} w={}".format(*self.latent_shape(1)[1:])
        given = {
            "latent": PortSpec("float32", latent_shape, space=self.latent_space),
            "condition": PortSpec("float32", f"B L D={cfg.text_dim}", space=cfg.text_space),
        }
        for port, spec in given.items():
            if port not in ports:
                problems.append(f"scorer {label(scorer)} has no input port {port!r}")
                continue
            problems += [
                f"scorer {label(scorer)} input {port!r}: {problem} "
                f"(the sampler passes {spec}, it accepts {ports[port]})"
                for problem in connection_problems(spec, ports[port])
            ]
        return problems

    @classmethod
    def example_components(cls, config: LatentSamplerConfig | dict[str, Any] | None) -> dict[str, Particle]:
        """A tiny ``dit-denoiser`` matching ``config`` and a 2-step Euler scheduler (for the conformance kit)."""
        cfg = config if isinstance(config, LatentSamplerConfig) else LatentSamplerConfig.model_validate(config or {})
        denoiser = registry.create(
            "sora-dit:dit-denoiser",
            latent_channels=cfg.latent_channels,
            latent_space=cfg.latent_space
            or causal_vae_latent_space(cfg.latent_channels, cfg.temporal_compression, cfg.spatial_compression),
            text_dim=cfg.text_dim,
            text_space=cfg.text_space,
            patch_t=cfg.patch_t,
            patch_h=cfg.patch_h,
            patch_w=cfg.patch_w,
            hidden_size=32,
            depth=1,
            heads=2,
        )
        if isinstance(denoiser, torch.nn.Module):
            _perturb(denoiser)
            denoiser.eval()
        return {"denoiser": denoiser, "scheduler": registry.create("sora-dit:rectified-flow-euler", steps=2)}

    @classmethod
    def example_inputs(cls, config: LatentSamplerConfig, batch: int, generator: torch.Generator) -> dict[str, Any]:
        """``2 * batch`` rows of text: the prompts, then the unconditional ones."""
        return {
            "condition": torch.randn(2 * batch, 5, config.text_dim, generator=generator),
            "condition_mask": torch.ones(2 * batch, 5, dtype=torch.bool),
        }

    # --- sampling ----------------------------------------------------------------------------

    def outside_training(self) -> str | None:
        """Why the video asked for is not one the denoiser was trained to make (``trained_range``, else
        ``trained_size``), or None."""
        cfg = self.config
        if cfg.trained_range is not None:
            return self._outside_range(cfg.trained_range)
        if cfg.trained_size is None or (cfg.frames, cfg.height, cfg.width) == tuple(cfg.trained_size):
            return None
        frames, height, width = cfg.trained_size
        return (
            f"{label(self)}: {cfg.frames} frames of {cfg.width}x{cfg.height} are outside what the denoiser's weights "
            f"were trained at ({frames} frames of {width}x{height}); expect a degraded video (objects that break up, "
            "smear or repeat)"
        )

    def _outside_range(self, ranges: TrainedRange) -> str | None:
        cfg = self.config
        asked = (cfg.frames, cfg.height, cfg.width)
        if all(low <= value <= high for value, (low, high) in zip(asked, ranges, strict=True)):
            return None
        (f_low, f_high), (h_low, h_high), (w_low, w_high) = ranges
        return (
            f"{label(self)}: {cfg.frames} frames of {cfg.width}x{cfg.height} are outside the range the denoiser's "
            f"weights were trained on ({f_low}-{f_high} frames, {h_low}-{h_high} pixels high, {w_low}-{w_high} wide); "
            "expect a degraded video (objects that break up, smear or repeat)"
        )

    def forward(self, condition: Tensor, condition_mask: Tensor | None = None) -> dict[str, Tensor]:
        problem = self.outside_training()
        if problem is not None:
            warnings.warn(problem, SoraWarning, stacklevel=2)
        denoiser, scheduler = self.component("denoiser"), self.component("scheduler")
        scheduler_sample = getattr(scheduler, "sample", None)
        if not callable(scheduler_sample):
            raise ComponentError(
                f"{label(self)}: scheduler {label(scheduler)} has no sample(model, noise) method",
                "bind a scheduler subclassing sora_core.interfaces.Scheduler",
            )
        rows = condition.shape[0]
        if rows % 2 or (condition_mask is not None and condition_mask.shape[0] != rows):
            raise PortError(
                f"{label(self)}: input 'condition' has {rows} rows"
                + (f" and 'condition_mask' {condition_mask.shape[0]}" if condition_mask is not None else "")
                + "; expected the same even number N = 2B (B prompts, then B unconditional ones)",
                "make the texts with sora-dit:cfg-prompts before the text encoder",
            )
        prompts, candidates = rows // 2, self.config.candidates
        scorer = self.component("scorer") if candidates > 1 else None  # unbound: ComponentError naming the slot
        device, dtype = _placement(denoiser, condition)
        condition = condition.to(device=device, dtype=dtype)
        if condition_mask is not None:
            condition_mask = condition_mask.to(device=device, dtype=torch.bool)
        if candidates > 1:  # each prompt's rows K times over, then each unconditional row K times
            condition = condition.repeat_interleave(candidates, dim=0)
            if condition_mask is not None:
                condition_mask = condition_mask.repeat_interleave(candidates, dim=0)
        batch = prompts * candidates
        # drawn on the CPU, so a seed gives the same noise on every device
        noise = torch.randn(self.latent_shape(batch)).to(device)
        autocast = _autocast(device, dtype, self.config.compute_dtype)

        def velocity(sample: Tensor, t: float) -> Tensor:
            scale = self.config.guidance_at(float(t))
            guided = scale != 1.0
            used = slice(None) if guided else slice(0, batch)  # unguided: the prompts' rows only
            latent = torch.cat([sample, sample]) if guided else sample
            mask = None if condition_mask is None else condition_mask[used]
            timestep = torch.full((latent.shape[0],), float(t), device=device)
            with autocast:
                out = denoiser(
                    latent=latent.to(dtype), timestep=timestep, condition=condition[used], condition_mask=mask
                )
            prediction = out["prediction"].to(torch.float32)
            if not guided:
                return prediction
            conditional, unconditional = prediction.chunk(2)
            return unconditional + scale * (conditional - unconditional)

        latent = scheduler_sample(velocity, noise, num_steps=self.config.steps).to(torch.float32)
        if scorer is not None:
            mask = None if condition_mask is None else condition_mask[:batch]
            latent = _best_candidates(scorer, latent, condition[:batch], mask, prompts)
        return {"latent": latent}


def _best_candidates(scorer: Particle, latent: Tensor, condition: Tensor, mask: Tensor | None, prompts: int) -> Tensor:
    """Of each prompt's candidates (consecutive rows of ``latent``), the one ``scorer`` rates highest."""
    device, dtype = _placement(scorer, condition)
    scores = scorer(
        latent=latent.to(device=device, dtype=dtype),
        condition=condition.to(device=device, dtype=dtype),
        condition_mask=None if mask is None else mask.to(device),
    )["score"]
    best = scores.to(latent.device).view(prompts, -1).argmax(dim=1)
    return latent.view(prompts, -1, *latent.shape[1:])[torch.arange(prompts, device=latent.device), best]


def _autocast(device: torch.device, dtype: torch.dtype, compute_dtype: str) -> Any:
    """Autocast to bfloat16 for the denoiser's float32 weights when ``compute_dtype`` asks for it (``auto``: where
    ``device`` computes bfloat16 natively); a no-op otherwise."""
    wanted = compute_dtype == "bfloat16" or (compute_dtype == "auto" and bfloat16_is_native(device))
    if not wanted or dtype != torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def bfloat16_is_native(device: torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 matrices in hardware: a CUDA GPU that says so, or an x86 CPU with
    AVX512-BF16 or AMX-BF16 (elsewhere bfloat16 is emulated, slower than float32)."""
    if device.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    return device.type == "cpu" and bool({"avx512_bf16", "amx_bf16"} & _cpu_flags())


@functools.cache
def _cpu_flags() -> frozenset[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def _placement(denoiser: Particle, condition: Tensor) -> tuple[torch.device, torch.dtype]:
    """Where the denoiser's weights live (the condition's device and float32 for a weightless one)."""
    if isinstance(denoiser, torch.nn.Module):
        for parameter in denoiser.parameters():
            return parameter.device, parameter.dtype
    return condition.device, torch.float32


def _perturb(module: torch.nn.Module) -> None:
    """Give a fresh denoiser non-zero zero-initialised layers, so sampling is not the identity in tests."""
    with torch.no_grad():
        for parameter in module.parameters():
            if not parameter.any():
                parameter.normal_(std=0.02)
