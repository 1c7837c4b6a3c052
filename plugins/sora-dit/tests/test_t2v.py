"""The t2v template end to end (needs sora-text and sora-vae): trained weights, seeds, swaps by name, refusals."""

from __future__ import annotations

import pytest
import torch

from sora_core import registry
from sora_core.errors import IncompatibleSwapError, PipelineError
from sora_core.pipeline import Pipeline

installed = {info.full_name for info in registry.list()}
pytestmark = pytest.mark.skipif(
    not {"sora-text:byte-transformer", "sora-text:minilm-l6", "sora-vae:causal-vae-decoder"} <= installed,
    reason="the t2v template needs sora-text and sora-vae installed",
)

PROMPT = ["a red circle moving right"]


@pytest.fixture(scope="module")
def reference() -> torch.Tensor:
    return Pipeline.from_template("t2v", seed=0)(prompt=PROMPT)["video"]


def test_t2v_makes_a_video_from_a_prompt(reference: torch.Tensor) -> None:
    assert reference.shape == (1, 3, 9, 64, 64) and reference.dtype == torch.float32
    assert reference.min() >= -1 and reference.max() <= 1 and reference.std() > 0


def test_the_template_loads_the_shipped_weights() -> None:
    pipe = Pipeline.from_template("t2v", seed=0)
    for node, particle in (("denoiser", "sora-dit:dit-denoiser"), ("decoder", "sora-vae:causal-vae-decoder")):
        assert pipe.spec.nodes[node].weights == "default"
        shipped = registry.load(particle)
        for a, b in zip(pipe.nodes[node].state_dict().values(), shipped.state_dict().values(), strict=True):
            assert torch.equal(a, b)
    assert pipe.nodes["text_encoder"].registered_name == "sora-text:minilm-l6"
    assert pipe.nodes["denoiser"].config.text_space == "text/minilm-l6@1"


def test_the_same_seed_reproduces_and_another_differs(reference: torch.Tensor) -> None:
    assert torch.equal(Pipeline.from_template("t2v", seed=0)(prompt=PROMPT)["video"], reference)
    pipe = Pipeline.from_template("t2v", seed=1)  # the weights are loaded: the build seed does not change them
    pipe.configure("sampler", steps=2)
    first = pipe.run({"prompt": PROMPT}, seed=5)["video"]
    assert torch.equal(pipe.run({"prompt": PROMPT}, seed=5)["video"], first)
    assert not torch.allclose(pipe.run({"prompt": PROMPT}, seed=6)["video"], first)  # another noise


def test_swapping_the_scheduler_changes_the_run_and_a_loaded_denoiser_keeps_its_config() -> None:
    pipe = Pipeline.from_template("t2v", seed=0)
    pipe.configure("sampler", steps=2)
    euler = pipe.run({"prompt": PROMPT}, seed=0)["video"]
    pipe.swap("scheduler", "sora-dit:rectified-flow-heun")
    heun = pipe.run({"prompt": PROMPT}, seed=0)["video"]
    assert heun.shape == euler.shape and not torch.allclose(heun, euler)
    with pytest.raises(IncompatibleSwapError, match="node 'denoiser' is loaded from weights 'default'"):
        pipe.configure("denoiser", cross_attention="sora-dit:gated-cross-attention")


def test_a_fresh_denoiser_with_another_cross_attention_can_replace_the_trained_one() -> None:
    pipe = Pipeline.from_template("t2v", seed=0)
    pipe.configure("sampler", steps=2)
    trained = pipe.run({"prompt": PROMPT}, seed=0)["video"]
    minilm = {"text_dim": 384, "text_space": "text/minilm-l6@1"}
    pipe.swap("denoiser", "sora-dit:dit-denoiser", cross_attention="sora-dit:gated-cross-attention", **minilm)
    assert {type(b.cross_attention).__name__ for b in pipe.nodes["denoiser"].blocks} == {"GatedCrossAttention"}
    fresh = pipe.run({"prompt": PROMPT}, seed=0)["video"]
    assert fresh.shape == trained.shape and torch.isfinite(fresh).all() and not torch.allclose(fresh, trained)


def test_two_prompts_and_no_guidance() -> None:
    pipe = Pipeline.from_template("t2v", seed=0)
    pipe.configure("sampler", steps=2, guidance_scale=1.0)
    video = pipe.run({"prompt": ["a red circle", "a blue square"]}, seed=0)["video"]
    assert video.shape == (2, 3, 9, 64, 64) and not torch.allclose(video[0], video[1])


def test_a_text_encoder_of_another_space_is_refused_at_build_time() -> None:
    pipe = Pipeline.from_template("t2v", seed=0)
    with pytest.raises(IncompatibleSwapError) as caught:
        pipe.swap("text_encoder", "sora-text:byte-transformer")
    message = caught.value.message
    assert "text_encoder.embeddings -> sampler.condition" in message
    assert "'text/minilm-l6@1'" in message and "'text/sora-byte-transformer@1'" in message
    assert "384" in message and "256" in message
    assert pipe.nodes["text_encoder"].registered_name == "sora-text:minilm-l6"  # unchanged


def test_a_spec_with_another_latent_size_is_refused_naming_the_decoder_edge() -> None:
    from sora_core.pipeline.pipeline import available_templates
    from sora_core.pipeline.spec import load_spec

    spec = load_spec(available_templates(registry.default_registry)["t2v"]).to_data()
    spec["nodes"]["sampler"]["config"] = {"latent_channels": 4}
    with pytest.raises(PipelineError, match=r"sampler\.latent -> decoder\.latent.*4.*8"):
        Pipeline.from_spec(spec, materialize=False)
