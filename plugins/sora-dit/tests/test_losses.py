"""The rectified-flow training helpers: interpolation, targets, time sampling, the loss and condition dropout."""

from __future__ import annotations

import pytest
import torch
from sora_dit.losses import interpolate, sample_timesteps, training_loss, velocity_target

from sora_core import registry
from sora_core.errors import ConfigError


def test_interpolation_runs_from_data_at_zero_to_noise_at_one() -> None:
    x0, noise = torch.randn(3, 2, 4), torch.randn(3, 2, 4)
    t = torch.tensor([0.0, 0.5, 1.0])
    x_t = interpolate(x0, noise, t)
    assert torch.equal(x_t[0], x0[0]) and torch.equal(x_t[2], noise[2])
    torch.testing.assert_close(x_t[1], (x0[1] + noise[1]) / 2)
    # the target is the time derivative of x_t, so an Euler step along it lands on the data
    torch.testing.assert_close(x_t[1] - 0.5 * velocity_target(x0, noise)[1], x0[1])


@pytest.mark.parametrize("sampling", ["uniform", "logit-normal"])
def test_time_sampling(sampling: str) -> None:
    generator = torch.Generator().manual_seed(0)
    t = sample_timesteps(4096, sampling=sampling, generator=generator)  # type: ignore[arg-type]
    assert t.shape == (4096,) and bool(((t > 0) & (t < 1)).all())
    assert abs(t.mean().item() - 0.5) < 0.03
    shifted = sample_timesteps(4096, sampling=sampling, shift=3.0, generator=generator)  # type: ignore[arg-type]
    assert shifted.mean() > t.mean() + 0.1
    with pytest.raises(ConfigError, match="unknown time sampling"):
        sample_timesteps(2, sampling="cosine")  # type: ignore[arg-type]


def test_the_loss_is_the_velocity_error_and_training_reduces_it() -> None:
    torch.manual_seed(0)
    denoiser = registry.create("sora-dit:dit-denoiser", hidden_size=32, depth=1, heads=2)
    latent, condition = torch.randn(2, 8, 1, 4, 4), torch.randn(2, 3, 256)
    noise, t = torch.randn_like(latent), torch.tensor([0.3, 0.8])
    loss = training_loss(denoiser, latent, condition, timestep=t, noise=noise)
    # a fresh denoiser predicts zero, so the loss is the target's mean square
    torch.testing.assert_close(loss, (noise - latent).pow(2).mean())
    optimiser = torch.optim.Adam(denoiser.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    first = None
    for _ in range(40):
        optimiser.zero_grad()
        loss = training_loss(denoiser, latent, condition, noise=noise, generator=generator)
        loss.backward()
        optimiser.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.7 * first


def test_condition_dropout_swaps_in_the_unconditional_prompt() -> None:
    seen: list[torch.Tensor] = []

    class Recorder(torch.nn.Module):
        prediction_type = "velocity"

        def forward(self, latent, timestep, condition, condition_mask):  # type: ignore[no-untyped-def]
            seen.append(torch.cat([condition[..., 0], condition_mask.float()], dim=1))
            return {"prediction": torch.zeros_like(latent)}

    latent, condition = torch.randn(64, 1, 1, 1, 1), torch.ones(64, 4, 2)
    empty = (torch.zeros(1, 2, 2), torch.tensor([[True, False]]))
    generator = torch.Generator().manual_seed(0)
    training_loss(Recorder(), latent, condition, unconditional=empty, condition_dropout=0.5, generator=generator)
    rows = seen[0]
    dropped = rows[:, 0] == 0
    assert 10 < int(dropped.sum()) < 54
    assert rows[dropped][:, 4:].tolist() == [[1.0, 0.0, 0.0, 0.0]] * int(dropped.sum())  # mask padded to L = 4
    assert rows[~dropped].eq(1).all()
    with pytest.raises(ConfigError, match="needs the unconditional condition"):
        training_loss(Recorder(), latent, condition, condition_dropout=0.1)


def test_only_velocity_denoisers_are_trained() -> None:
    class Epsilon(torch.nn.Module):
        prediction_type = "epsilon"

    with pytest.raises(ConfigError, match="predicts epsilon"):
        training_loss(Epsilon(), torch.zeros(1, 1, 1, 1, 1), torch.zeros(1, 1, 1))


def test_a_weighted_loss_is_the_weighted_mean_of_the_squared_error() -> None:
    torch.manual_seed(0)
    denoiser = registry.create("sora-dit:dit-denoiser", hidden_size=32, depth=1, heads=2)  # predicts zero
    latent, condition = torch.randn(2, 8, 1, 4, 4), torch.randn(2, 3, 256)
    noise, t = torch.randn_like(latent), torch.tensor([0.3, 0.8])
    error = (noise - latent).pow(2)
    weight = torch.ones(2, 1, 1, 4, 4)
    weight[:, :, :, :2] = 5.0  # the top half of every frame weighs five times more
    loss = training_loss(denoiser, latent, condition, timestep=t, noise=noise, weight=weight)
    expected = (error * weight).sum() / weight.expand_as(error).sum()
    torch.testing.assert_close(loss, expected)
    uniform = training_loss(denoiser, latent, condition, timestep=t, noise=noise, weight=torch.ones(1))
    torch.testing.assert_close(uniform, error.mean())
