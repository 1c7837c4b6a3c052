"""``guided-sampler``: the sampling loop of Wan, CogVideoX and LTX-Video, with classifier-free guidance.

A weightless particle of the kind ``guided_sampler``. Its ``denoiser`` and ``scheduler`` are components
(other pipeline nodes), so either can be swapped: a diffusers scheduler, or one of sora's (``sora-dit``'s
rectified-flow Heun in a Wan pipeline). It draws the noise, calls the scheduler's ``sample(model, noise)``
and guides each evaluation as the family's diffusers pipeline does, so a seed gives diffusers' video:

* ``guidance_batching: separate`` (Wan): the prompts and the negative prompts in two denoiser calls;
  ``batched`` (CogVideoX, LTX-Video): one call on ``[negative, prompt]``.
* guidance applies when ``guidance_scale > 1`` (diffusers' rule); ``guidance_rescale`` (LTX-Video) and
  ``dynamic_guidance`` (CogVideoX's cosine schedule) as in those pipelines.
* ``noise_layout: frames_first`` draws the noise as CogVideoX does, ``(B, t, c, h, w)``.

Sizes are checked when the sampler is configured: frames ``1 + k * temporal_compression`` giving a
multiple of the patch's frames, height and width multiples of ``spatial_compression * patch``; the
message lists the nearest valid values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import torch
from pydantic import Field, ValidationInfo, field_validator
from torch import Tensor

from sora_core import registry
from sora_core.config import ParticleConfig
from sora_core.errors import ComponentError, PortError
from sora_core.particle import Particle, WeightlessParticle
from sora_core.ports import PortSpec, connection_problems
from sora_diffusers.hooks import GUIDED_SAMPLER
from sora_diffusers.spaces import checked_space, latent_space, text_space


class GuidedSamplerConfig(ParticleConfig):
    """The video to sample, the family's guidance rules and the latent and text it works with."""

    family: Literal["wan", "cogvideox", "ltx"] = Field("wan", description="the model family (names its latent)")
    latent_channels: int = Field(16, gt=0, description="latent channels (c) of the VAE")
    temporal_compression: int = Field(4, gt=0, description="frames per latent frame of the VAE")
    spatial_compression: int = Field(8, gt=0, description="pixels per latent row/column of the VAE")
    patch_t: int = Field(1, gt=0, description="the transformer's latent frames per patch")
    patch_h: int = Field(2, gt=0, description="the transformer's latent rows per patch")
    patch_w: int = Field(2, gt=0, description="the transformer's latent columns per patch")
    frames: int = Field(9, gt=0, le=100_000, description="video frames: 1 + k * temporal_compression")
    height: int = Field(16, gt=0, le=100_000, description="video height in pixels")
    width: int = Field(16, gt=0, le=100_000, description="video width in pixels")
    guidance_scale: float = Field(5.0, ge=0, description="classifier-free guidance scale; guidance applies above 1")
    guidance_rescale: float = Field(0.0, ge=0, le=1, description="rescale the guided prediction's std (LTX-Video)")
    dynamic_guidance: bool = Field(False, description="CogVideoX's cosine guidance schedule (use_dynamic_cfg)")
    guidance_batching: Literal["separate", "batched"] = Field(
        "separate", description="'separate': two denoiser calls per step (Wan); 'batched': one on [negative, prompt]"
    )
    noise_layout: Literal["channels_first", "frames_first"] = Field(
        "channels_first", description="the order the noise is drawn in: (B, c, t, h, w), or (B, t, c, h, w) (CogVideoX)"
    )
    steps: int | None = Field(None, ge=1, le=10_000, description="sampling steps; None uses the scheduler's")
    sample_in_text_dtype: bool = Field(
        False,
        description="draw the noise and keep the sample between steps in the text embeddings' dtype, as "
        "CogVideoX's pipeline does (float32 otherwise)",
    )
    trained_size: tuple[int, int, int] | None = Field(
        None,
        description="(frames, height, width) the transformer was trained at, when it only knows that size (CogVideoX "
        "2b/5b, whose positions are fixed to it); other sizes run but are warned about",
    )
    text_dim: int = Field(32, gt=0, description="features per text token (D) the denoiser reads")
    text_space: str = Field(text_space("umt5", 32), description="space tag of the text embeddings")

    @field_validator("frames")
    @classmethod
    def _frames(cls, frames: int, info: ValidationInfo) -> int:
        temporal = info.data.get("temporal_compression")
        if temporal and (frames - 1) % temporal:
            lower = 1 + (frames - 1) // temporal * temporal
            raise ValueError(
                f"{frames} frames do not fit: frames must be 1 + {temporal}k (1, {1 + temporal}, {1 + 2 * temporal}, "
                f"{1 + 3 * temporal}, ...); nearest: {lower} or {lower + temporal}"
            )
        return frames

    @field_validator("height", "width")
    @classmethod
    def _pixels(cls, size: int, info: ValidationInfo) -> int:
        spatial = info.data.get("spatial_compression")
        patch = info.data.get("patch_h" if info.field_name == "height" else "patch_w")
        if spatial and patch and size % (spatial * patch):
            step = spatial * patch
            lower, upper = max(step, size // step * step), (size // step + 1) * step
            raise ValueError(
                f"{size} is not a multiple of spatial_compression * patch = {spatial} * {patch} = {step}; "
                f"nearest: {lower} or {upper}"
            )
        return size

    @field_validator("text_space")
    @classmethod
    def _space(cls, tag: str) -> str:
        return checked_space(tag)


class GuidedSampler(WeightlessParticle):
    """Samples a latent video for text conditions, guided, with a bound denoiser and scheduler.

    ``condition`` ``(2B, L, D)`` (and ``condition_mask``) holds the B prompts, then B negative prompts
    (``negative-prompts`` and a text encoder make them); without guidance only the first B are read.
    """

    kind: ClassVar[str] = GUIDED_SAMPLER.name
    Config = GuidedSamplerConfig
    config: GuidedSamplerConfig
    stochastic: ClassVar[bool] = True
    description = "guided sampling loop of Wan, CogVideoX and LTX-Video over a bound denoiser and scheduler"

    @classmethod
    def component_kinds(cls) -> dict[str, str]:
        return {"denoiser": "denoiser", "scheduler": "scheduler"}

    # --- sizes and ports ---------------------------------------------------------------------------------------

    @property
    def latent_space(self) -> str:
        cfg = self.config
        return latent_space(cfg.family, cfg.latent_channels, cfg.temporal_compression, cfg.spatial_compression)

    def latent_shape(self, batch: int) -> tuple[int, int, int, int, int]:
        cfg = self.config
        frames = 1 + (cfg.frames - 1) // cfg.temporal_compression
        spatial = cfg.spatial_compression
        return batch, cfg.latent_channels, frames, cfg.height // spatial, cfg.width // spatial

    def input_ports(self) -> dict[str, PortSpec]:
        cfg = self.config
        return {
            "condition": PortSpec(
                "float",
                f"N L D={cfg.text_dim}",
                space=cfg.text_space,
                description="text tokens of the B prompts, then of B negative prompts (N = 2B)",
            ),
            "condition_mask": PortSpec("bool", "N L", optional=True, description="True at real text tokens"),
        }

    def output_ports(self) -> dict[str, PortSpec]:
        _, c, t, h, w = self.latent_shape(1)
        return {
            "latent": PortSpec(
                "float32", f"B c={c} t={t} h={h} w={w}", space=self.latent_space, description="the sampled latent"
            )
        }

    # --- components --------------------------------------------------------------------------------------------

    def bind_components(self, components: Mapping[str, Particle]) -> None:
        super().bind_components(components)
        problems = self.component_problems(dict(components))
        if problems:
            raise ComponentError(
                f"{self._label()}: " + "; ".join(problems),
                "bind a denoiser built for this sampler's latent and text, and a scheduler that integrates what it "
                "predicts",
            )

    def component_problems(self, components: Mapping[str, Particle]) -> list[str]:
        problems: list[str] = []
        denoiser, scheduler = components.get("denoiser"), components.get("scheduler")
        if denoiser is not None:
            ports = denoiser.input_ports()
            _, c, t, h, w = self.latent_shape(1)
            given = {
                "latent": PortSpec("float32", f"B c={c} t={t} h={h} w={w}", space=self.latent_space),
                "timestep": PortSpec("float", "B"),
                "condition": PortSpec("float", f"B L D={self.config.text_dim}", space=self.config.text_space),
            }
            for port, spec in given.items():
                if port not in ports:
                    problems.append(f"denoiser {denoiser._label()} has no input port {port!r}")
                    continue
                problems += [
                    f"denoiser {denoiser._label()} input {port!r}: {problem} "
                    f"(the sampler passes {spec}, it accepts {ports[port]})"
                    for problem in connection_problems(spec, ports[port])
                ]
        if denoiser is not None and scheduler is not None:
            made, expected = getattr(denoiser, "prediction_type", None), getattr(scheduler, "prediction_type", None)
            if made != expected:
                problems.append(
                    f"denoiser {denoiser._label()} predicts {made}, but scheduler {scheduler._label()} integrates "
                    f"{expected}: a {made} model needs a scheduler for {made}"
                )
        return problems

    @classmethod
    def example_components(cls, config: GuidedSamplerConfig | dict[str, Any] | None) -> dict[str, Particle]:
        """The tiny Wan transformer and a 2-step UniPC scheduler (for the conformance kit)."""
        return {
            "denoiser": registry.create("sora-diffusers:wan-transformer"),
            "scheduler": registry.create("sora-diffusers:unipc-multistep", steps=2),
        }

    @classmethod
    def example_inputs(cls, config: GuidedSamplerConfig, batch: int, generator: torch.Generator) -> dict[str, Any]:
        return {"condition": torch.randn(2 * batch, 5, config.text_dim, generator=generator)}

    # --- sampling ----------------------------------------------------------------------------------------------

    def padding_frames(self) -> int:
        """Latent frames drawn in front and dropped after sampling, so a transformer that patches ``patch_t`` frames
        together (CogVideoX 1.5) gets a multiple of them, as diffusers' pipeline pads."""
        frames, patch = self.latent_shape(1)[2], self.config.patch_t
        return (patch - frames % patch) % patch

    def noise(self, batch: int, dtype: torch.dtype = torch.float32) -> Tensor:
        """Noise from torch's global RNG (the pipeline seeds it per node), drawn on the CPU in the family's order."""
        b, c, t, h, w = self.latent_shape(batch)
        t += self.padding_frames()
        if self.config.noise_layout == "frames_first":
            return torch.randn(b, t, c, h, w, dtype=dtype).permute(0, 2, 1, 3, 4)
        return torch.randn(b, c, t, h, w, dtype=dtype)

    def forward(self, condition: Tensor, condition_mask: Tensor | None = None) -> dict[str, Tensor]:
        self._warn_outside_training()
        denoiser, scheduler = self.component("denoiser"), self.component("scheduler")
        rows = condition.shape[0]
        if rows % 2 or (condition_mask is not None and condition_mask.shape[0] != rows):
            raise PortError(
                f"{self._label()}: input 'condition' has {rows} rows; expected an even number N = 2B "
                "(B prompts, then B negative prompts)",
                "make the texts with sora-diffusers:negative-prompts before the tokenizer",
            )
        batch = rows // 2
        device = _device(denoiser, condition)
        cfg = self.config
        guided = cfg.guidance_scale > 1.0
        positive, negative = condition[:batch].to(device), condition[batch:].to(device)
        mask = None if condition_mask is None else condition_mask.to(device=device, dtype=torch.bool)
        positive_mask = None if mask is None else mask[:batch]
        negative_mask = None if mask is None else mask[batch:]
        steps = cfg.steps or int(getattr(scheduler.config, "steps", 0) or 0) or None

        def predict(latent: Tensor, t: float, text: Tensor, text_mask: Tensor | None) -> Tensor:
            timestep = torch.full((latent.shape[0],), t, dtype=torch.float64)
            return denoiser(latent=latent, timestep=timestep, condition=text, condition_mask=text_mask)["prediction"]

        def model(sample: Tensor, t: float) -> Tensor:
            if not guided:
                return predict(sample, t, positive, positive_mask).float()
            scale = self._scale(t, steps)
            if cfg.guidance_batching == "separate":
                conditional = predict(sample, t, positive, positive_mask)
                unconditional = predict(sample, t, negative, negative_mask)
                return unconditional + scale * (conditional - unconditional)
            both = torch.cat([negative, positive])
            both_mask = None if mask is None else torch.cat([negative_mask, positive_mask])
            prediction = predict(torch.cat([sample, sample]), t, both, both_mask).float()
            unconditional, conditional = prediction.chunk(2)
            guided_prediction = unconditional + scale * (conditional - unconditional)
            if cfg.guidance_rescale > 0:
                guided_prediction = _rescale(guided_prediction, conditional, cfg.guidance_rescale)
            return guided_prediction

        noise = self.noise(batch, condition.dtype if cfg.sample_in_text_dtype else torch.float32).to(device)
        latent = scheduler.sample(model, noise, num_steps=steps)  # type: ignore[attr-defined]
        return {"latent": latent[:, :, self.padding_frames() :].float()}

    def _warn_outside_training(self) -> None:
        cfg = self.config
        if cfg.trained_size is None or (cfg.frames, cfg.height, cfg.width) == tuple(cfg.trained_size):
            return
        import warnings

        from sora_core.errors import SoraWarning

        frames, height, width = cfg.trained_size
        warnings.warn(
            f"{self._label()}: {cfg.frames} frames of {cfg.width}x{cfg.height} are outside what this {cfg.family} "
            f"transformer was trained at ({frames} frames of {width}x{height}); expect a degraded video",
            SoraWarning,
            stacklevel=2,
        )

    def _scale(self, t: float, steps: int | None) -> float:
        cfg = self.config
        if not cfg.dynamic_guidance or not steps:
            return cfg.guidance_scale
        timestep = round(t * 1000)
        return 1 + cfg.guidance_scale * ((1 - math.cos(math.pi * ((steps - timestep) / steps) ** 5.0)) / 2)


def _rescale(guided: Tensor, conditional: Tensor, rescale: float) -> Tensor:
    """Match the guided prediction's std to the conditional one's, by ``rescale`` (Lin et al. 2023, sec. 3.4)."""
    dims = list(range(1, conditional.ndim))
    std_conditional = conditional.std(dim=dims, keepdim=True)
    std_guided = guided.std(dim=dims, keepdim=True)
    rescaled = guided * (std_conditional / std_guided)
    return rescale * rescaled + (1 - rescale) * guided


def _device(denoiser: Particle, condition: Tensor) -> torch.device:
    if isinstance(denoiser, torch.nn.Module):
        for parameter in denoiser.parameters():
            return parameter.device
    return condition.device
