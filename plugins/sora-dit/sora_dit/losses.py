"""Training helpers for rectified flow: noising a clean latent and the velocity-matching loss.

With ``x_t = (1 - t) x0 + t noise`` (``t = 1`` is pure noise) the target velocity is
``noise - x0``; a denoiser is trained to predict it with a mean squared error::

    from sora_dit.losses import training_loss

    loss = training_loss(denoiser, latents, condition, condition_mask)
    loss.backward()

For classifier-free guidance, train on the empty prompt's embeddings for a fraction of the
batch (``unconditional`` and ``condition_dropout``), so the sampler's unconditional branch
is meaningful.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor

from sora_core.errors import ConfigError

TimeSampling = Literal["uniform", "logit-normal"]

__all__ = ["interpolate", "sample_timesteps", "training_loss", "velocity_target"]


def interpolate(x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
    """``x_t = (1 - t) x0 + t noise`` with one ``t`` per batch item."""
    t = t.to(x0.dtype).reshape(-1, *[1] * (x0.dim() - 1))
    return (1 - t) * x0 + t * noise


def velocity_target(x0: Tensor, noise: Tensor) -> Tensor:
    """The rectified-flow velocity ``noise - x0`` (``d x_t / d t``)."""
    return noise - x0


def sample_timesteps(
    batch: int,
    *,
    sampling: TimeSampling = "logit-normal",
    shift: float = 1.0,
    generator: torch.Generator | None = None,
    device: Any = None,
) -> Tensor:
    """``batch`` training times in ``(0, 1)``: uniform, or logit-normal (SD3's, weighting middle times).

    ``shift`` maps ``t -> s t / (1 + (s - 1) t)``, as the samplers' ``shift`` does.
    """
    if sampling == "uniform":
        t = torch.rand(batch, generator=generator, device=device)
    elif sampling == "logit-normal":
        t = torch.sigmoid(torch.randn(batch, generator=generator, device=device))
    else:
        raise ConfigError(f"unknown time sampling {sampling!r}", "use 'uniform' or 'logit-normal'")
    if shift <= 0:
        raise ConfigError(f"timestep shift must be positive, got {shift}", "use shift > 0 (1 leaves times as drawn)")
    return shift * t / (1 + (shift - 1) * t)


def training_loss(
    denoiser: Any,
    latent: Tensor,
    condition: Tensor,
    condition_mask: Tensor | None = None,
    *,
    timestep: Tensor | None = None,
    noise: Tensor | None = None,
    sampling: TimeSampling = "logit-normal",
    shift: float = 1.0,
    unconditional: tuple[Tensor, Tensor | None] | None = None,
    condition_dropout: float = 0.0,
    generator: torch.Generator | None = None,
    weight: Tensor | None = None,
) -> Tensor:
    """The rectified-flow loss ``mean((denoiser(x_t, t, condition) - (noise - x0))^2)``.

    ``denoiser`` is a velocity-predicting ``denoiser`` particle (``dit-denoiser``), ``latent``
    the clean latents ``x0`` ``(B, c, t, h, w)``, ``condition``/``condition_mask`` their text
    tokens. ``timestep`` and ``noise`` default to fresh draws (``sampling``, ``shift``).
    With ``condition_dropout > 0``, that fraction of items (on average) is conditioned on
    ``unconditional`` instead: the empty prompt's ``(embeddings (1, L, D), mask (1, L))``,
    padded or cut to the condition's length. ``weight`` (broadcastable to the latent, e.g.
    ``(B, 1, t, h, w)``) makes it a weighted mean ``sum(w e^2) / sum(w)`` over the broadcast
    elements, to stress some positions. Differentiable in the denoiser's weights.
    """
    prediction_type = getattr(denoiser, "prediction_type", "velocity")
    if prediction_type != "velocity":
        raise ConfigError(
            f"training_loss trains velocity prediction, but {type(denoiser).__qualname__} predicts {prediction_type}",
            "use a denoiser whose prediction_type is 'velocity'",
        )
    batch = latent.shape[0]
    drawn_on = generator.device if generator is not None else latent.device
    if noise is None:
        noise = torch.randn(latent.shape, generator=generator, device=drawn_on).to(latent)
    if timestep is None:
        timestep = sample_timesteps(batch, sampling=sampling, shift=shift, generator=generator, device=drawn_on)
    timestep = torch.as_tensor(timestep, dtype=torch.float32).to(latent.device)
    if condition_dropout > 0:
        if unconditional is None:
            raise ConfigError(
                "training_loss: condition_dropout > 0 needs the unconditional condition",
                "pass unconditional=(embeddings, mask) of the empty prompt",
            )
        condition, condition_mask = _drop_conditions(
            condition, condition_mask, unconditional, condition_dropout, generator
        )
    x_t = interpolate(latent, noise, timestep)
    out = denoiser(latent=x_t, timestep=timestep, condition=condition, condition_mask=condition_mask)
    error = (out["prediction"].float() - velocity_target(latent, noise).float()) ** 2
    if weight is None:
        return torch.mean(error)
    weight = torch.broadcast_to(weight.float().to(error.device), error.shape)
    return (weight * error).sum() / weight.sum().clamp_min(1e-12)


def _drop_conditions(
    condition: Tensor,
    mask: Tensor | None,
    unconditional: tuple[Tensor, Tensor | None],
    probability: float,
    generator: torch.Generator | None,
) -> tuple[Tensor, Tensor]:
    """Replace items of ``condition`` (and ``mask``) by the unconditional ones with ``probability``."""
    batch, length = condition.shape[:2]
    embeddings, empty_mask = unconditional
    embeddings = _fit(embeddings.to(condition), length)
    empty_mask = _fit(
        empty_mask if empty_mask is not None else torch.ones(embeddings.shape[:2], dtype=torch.bool), length
    )
    if mask is None:
        mask = torch.ones(batch, length, dtype=torch.bool, device=condition.device)
    drawn_on = generator.device if generator is not None else condition.device
    drop = (torch.rand(batch, generator=generator, device=drawn_on) < probability).to(condition.device)
    condition = torch.where(drop[:, None, None], embeddings.expand(batch, -1, -1), condition)
    mask = torch.where(drop[:, None], empty_mask.to(mask.device).expand(batch, -1), mask)
    return condition, mask


def _fit(tokens: Tensor, length: int) -> Tensor:
    """``tokens`` ``(1, L', ...)`` padded with zeros (or cut) to ``length`` tokens."""
    if tokens.shape[1] >= length:
        return tokens[:, :length]
    pad = tokens.new_zeros((tokens.shape[0], length - tokens.shape[1], *tokens.shape[2:]))
    return torch.cat([tokens, pad], dim=1)
