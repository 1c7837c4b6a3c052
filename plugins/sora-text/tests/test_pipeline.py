"""The encoders in pipelines: a text list flows in, and a condition trained on one encoder refuses the other."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from pydantic import Field
from torch import nn

from sora_core import registry
from sora_core.config import ParticleConfig
from sora_core.errors import PipelineError
from sora_core.interfaces import Denoiser
from sora_core.pipeline import PipelineBuilder
from sora_core.ports import PortSpec


class ProbeConfig(ParticleConfig):
    context_dim: int = Field(384, gt=0)
    space: str = "text/minilm-l6@1"


class ConditionedProbe(Denoiser):
    """A stand-in denoiser conditioned on text embeddings of one declared space."""

    Config = ProbeConfig
    config: ProbeConfig

    def __init__(self, config: ProbeConfig | dict[str, Any] | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.project = nn.Linear(self.config.context_dim, 4)

    def input_ports(self) -> dict[str, PortSpec]:
        d = self.config.context_dim
        return {
            "latent": PortSpec("float32", "B 4"),
            "timestep": PortSpec("float32", "B"),
            "condition": PortSpec("float32", f"B L D={d}", space=self.config.space),
            "condition_mask": PortSpec("bool", "B L"),
        }

    def output_ports(self) -> dict[str, PortSpec]:
        return {"prediction": PortSpec("float32", "B 4")}

    def forward(
        self, latent: torch.Tensor, timestep: torch.Tensor, condition: torch.Tensor, condition_mask: Any
    ) -> Any:
        weights = condition_mask.unsqueeze(-1).to(condition.dtype)
        pooled = (condition * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        return {"prediction": latent * timestep[:, None] + self.project(pooled)}


@pytest.fixture(scope="module")
def probe() -> str:
    return registry.register("sora-text-conditioned-probe", ConditionedProbe).full_name


def pipeline(encoder: str, probe: str, materialize: bool = True, **probe_config: Any) -> Any:
    return (
        PipelineBuilder("text-condition")
        .node("text_encoder", encoder)
        .node("denoiser", probe, **probe_config)
        .connect("text_encoder.embeddings", "denoiser.condition")
        .connect("text_encoder.mask", "denoiser.condition_mask")
        .input("text", "text_encoder.text")
        .input("latent", "denoiser.latent")
        .input("timestep", "denoiser.timestep")
        .output("prediction", "denoiser.prediction")
        .build(materialize=materialize, seed=0)
    )


def test_a_denoiser_conditioned_on_minilm_refuses_the_byte_transformer(probe: str) -> None:
    with pytest.raises(PipelineError) as caught:
        pipeline("sora-text:byte-transformer", probe, materialize=False, context_dim=256)
    message = str(caught.value)
    assert "space differs" in message and "text/sora-byte-transformer@1" in message and "text/minilm-l6@1" in message


def test_and_the_other_way_round(probe: str) -> None:
    with pytest.raises(PipelineError, match="space differs"):
        pipeline("sora-text:minilm-l6", probe, materialize=False, space="text/sora-byte-transformer@1")


@pytest.mark.parametrize(
    ("encoder", "dim", "space"),
    [
        ("sora-text:byte-transformer", 256, "text/sora-byte-transformer@1"),
        ("sora-text:minilm-l6", 384, "text/minilm-l6@1"),
    ],
)
def test_text_flows_through_a_pipeline(probe: str, encoder: str, dim: int, space: str) -> None:
    pipe = pipeline(encoder, probe, context_dim=dim, space=space)
    out = pipe(text=["a red circle moving right", ""], latent=torch.randn(2, 4), timestep=torch.rand(2))
    assert out["prediction"].shape == (2, 4) and torch.isfinite(out["prediction"]).all()
