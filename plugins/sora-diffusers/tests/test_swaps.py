"""Swaps and refusals: other schedulers in the imported pipelines, hand-built specs, and what does not fit.

* sora-dit's rectified-flow schedulers integrate the same velocity as Wan's flow transformer
  (``x_t = (1 - t) x0 + t noise``), so they drive it; on the same time grid sora-dit's Euler and diffusers'
  ``FlowMatchEulerDiscreteScheduler`` give the same video.
* CogVideoX's transformer predicts ``v_prediction``: a velocity scheduler is refused when the pipeline is built.
* A latent of one VAE fed to another family's decoder, and text embeddings wider than the transformer reads,
  are refused at build time with both sides named; sizes the VAE and patches cannot make are refused before
  running, with the nearest valid values.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

from sora_core import registry
from sora_core.errors import ComponentError, ConfigError, PipelineError, SoraError
from sora_core.importers import import_spec, importer_for_folder
from sora_core.pipeline import Pipeline
from sora_core.pipeline.pipeline import with_changes

REGISTRY = registry.default_registry
PROMPT = {"prompt": ["a red ball"]}
#: the tiny Wan and CogVideoX folders make 16x16 videos of 9 frames (3 latent frames of 2x2)
SIZE = {"frames": 9, "height": 16, "width": 16}
BASE = {"sampler": SIZE, "prompts": {"negative_prompt": "blurry"}}
HEUN = "sora-dit:rectified-flow-heun"


def imported(folder: Path) -> Any:
    return import_spec(importer_for_folder(folder, REGISTRY), folder)


def video_of(spec: Any, seed: int = 7) -> torch.Tensor:
    return Pipeline.from_spec(spec).run(PROMPT, seed=seed)["video"]


def message(error: pytest.ExceptionInfo[SoraError]) -> str:
    return str(error.value)


@pytest.fixture(scope="module")
def wan(wan_folder: Path) -> Any:
    return imported(wan_folder)


@pytest.fixture(scope="module")
def cogvideox(cogvideox_folder: Path) -> Any:
    return imported(cogvideox_folder)


# --- sora's schedulers in a diffusers pipeline ---------------------------------------------------------------


def test_sora_dit_heun_drives_the_wan_transformer(wan: Any) -> None:
    heun = with_changes(
        wan, REGISTRY, swaps={"scheduler": HEUN}, settings={"scheduler": {"steps": 3, "shift": 3.0}, **BASE}
    )
    pipeline = Pipeline.from_spec(heun)
    assert pipeline.nodes["scheduler"].registered_name == HEUN
    video = pipeline.run(PROMPT, seed=7)["video"]
    assert video.shape == (1, 3, 9, 16, 16)
    assert torch.isfinite(video).all()
    euler = with_changes(
        wan,
        REGISTRY,
        swaps={"scheduler": "sora-dit:rectified-flow-euler"},
        settings={"scheduler": {"steps": 3, "shift": 3.0}, **BASE},
    )
    assert not torch.equal(video, video_of(euler)), "Heun's corrector changed nothing: was the swap used?"


def test_sora_dit_euler_and_diffusers_flow_match_euler_agree_on_one_grid(wan: Any) -> None:
    """Both are Euler steps of the flow velocity; with the same shifted sigmas they give the same video.

    diffusers' static ``shift=3`` grid is ``linspace(1, shifted(1/1000), n)`` shifted again, not sora-dit's
    ``linspace(1, 0, n + 1)`` shifted; its dynamic form (LTX-Video's: ``sigmas = linspace(1, 1/n, n)``,
    exponential time shift with ``mu``) is exactly sora-dit's shift 3 when ``mu = ln 3`` whatever the size.
    """
    steps, shift = 3, 3.0
    same_grid = {"use_dynamic_shifting": True, "base_shift": math.log(shift), "max_shift": math.log(shift)}
    ours = REGISTRY.create("sora-dit:rectified-flow-euler", steps=steps, shift=shift)
    theirs = REGISTRY.create("sora-diffusers:flow-match-euler", steps=steps, scheduler=same_grid)
    static = REGISTRY.create("sora-diffusers:flow-match-euler", steps=steps, scheduler={"shift": shift})
    assert theirs.timesteps(steps) == pytest.approx(ours.timesteps(steps), abs=1e-6)
    assert static.timesteps(steps) != pytest.approx(ours.timesteps(steps), abs=1e-3)

    sora_euler = with_changes(
        wan,
        REGISTRY,
        swaps={"scheduler": "sora-dit:rectified-flow-euler"},
        settings={"scheduler": {"steps": steps, "shift": shift}, **BASE},
    )
    diffusers_euler = with_changes(
        wan,
        REGISTRY,
        swaps={"scheduler": "sora-diffusers:flow-match-euler"},
        settings={"scheduler": {"steps": steps, "scheduler": same_grid}, **BASE},
    )
    a, b = video_of(sora_euler), video_of(diffusers_euler)
    assert a.shape == b.shape == (1, 3, 9, 16, 16)
    assert float((a - b).abs().max()) <= 1e-5


def test_heun_in_the_cogvideox_pipeline_is_refused(cogvideox: Any) -> None:
    """CogVideoX's transformer predicts v (v_prediction); sora-dit's Heun integrates a flow velocity."""
    spec = with_changes(cogvideox, REGISTRY, swaps={"scheduler": HEUN}, settings={"scheduler": {"steps": 3}, **BASE})
    with pytest.raises((PipelineError, ComponentError)) as refused:
        Pipeline.from_spec(spec)
    text = message(refused)
    assert "v_prediction" in text and "velocity" in text, text
    assert HEUN in text and "sora-diffusers:cogvideox-transformer" in text, text

    pipeline = Pipeline.from_spec(with_changes(cogvideox, REGISTRY, settings=BASE))
    with pytest.raises((PipelineError, ComponentError)) as refused:
        pipeline.swap("scheduler", HEUN, steps=3)
    assert "v_prediction" in message(refused) and "velocity" in message(refused), message(refused)
    assert pipeline.nodes["scheduler"].registered_name == "sora-diffusers:cogvideox-ddim"  # left as it was


# --- a hand-written spec -------------------------------------------------------------------------------------


def hand_built_wan(folder: Path, **text_options: Any) -> dict[str, Any]:
    """A Wan pipeline written by hand: the folder's components, a fresh UniPC scheduler (no weights)."""
    return {
        "name": "hand-built-wan",
        "inputs": {"prompt": "prompts.prompt"},
        "outputs": {"video": "decoder.video"},
        "nodes": {
            "prompts": {"particle": "sora-diffusers:negative-prompts", "config": {"negative_prompt": "blurry"}},
            "tokenizer": {
                "particle": "sora-diffusers:t5-tokenizer",
                "weights": str(folder / "tokenizer"),
                "config": {"clean": "wan"},
            },
            "text_encoder": {
                "particle": "sora-diffusers:t5-encoder",
                "weights": str(folder / "text_encoder"),
                "config": text_options,
            },
            "transformer": {"particle": "sora-diffusers:wan-transformer", "weights": str(folder / "transformer")},
            "scheduler": {
                "particle": "sora-diffusers:unipc-multistep",
                "config": {"steps": 2, "scheduler": {"flow_shift": 3.0}},
            },
            "sampler": {
                "particle": "sora-diffusers:guided-sampler",
                "config": {**SIZE, "guidance_scale": 5.0},
                "components": {"denoiser": "transformer", "scheduler": "scheduler"},
            },
            "decoder": {"particle": "sora-diffusers:wan-vae-decoder", "weights": str(folder / "vae")},
        },
        "edges": [
            "prompts.text -> tokenizer.text",
            "tokenizer.tokens -> text_encoder.tokens",
            "tokenizer.mask -> text_encoder.mask",
            "text_encoder.embeddings -> sampler.condition",
            "text_encoder.mask -> sampler.condition_mask",
            "sampler.latent -> decoder.latent",
        ],
    }


def test_hand_built_wan_with_a_fresh_unipc_runs(wan_folder: Path, wan: Any) -> None:
    pipeline = Pipeline.from_spec(hand_built_wan(wan_folder, zero_padding=True))
    assert pipeline.nodes["scheduler"].prediction_type == "velocity"
    video = pipeline.run(PROMPT, seed=7)["video"]
    assert video.shape == (1, 3, 9, 16, 16)
    assert torch.isfinite(video).all()
    # the fresh UniPC is the folder's (flow sigmas, flow prediction, shift 3), and the text options Wan's:
    # the hand-built pipeline is the imported one (which test_parity compares with diffusers)
    settings = {**BASE, "sampler": {**SIZE, "guidance_scale": 5.0}, "scheduler": {"steps": 2}}
    assert float((video - video_of(with_changes(wan, REGISTRY, settings=settings))).abs().max()) <= 1e-6


# --- refusals at build time, naming both sides ----------------------------------------------------------------


def test_wan_decoder_refuses_a_cogvideox_latent(cogvideox: Any, wan_folder: Path) -> None:
    nodes = dict(cogvideox.nodes)
    nodes["decoder"] = nodes["decoder"].model_copy(
        update={"particle": "sora-diffusers:wan-vae-decoder", "weights": str(wan_folder / "vae")}
    )
    with pytest.raises(PipelineError) as refused:
        Pipeline.from_spec(cogvideox.model_copy(update={"nodes": nodes}))
    text = message(refused)
    assert "sampler.latent -> decoder.latent" in text, text
    assert "latent/wan-vae-" in text and "latent/cogvideox-vae-" in text, text
    assert "4 (from sampler) vs 16 (from decoder)" in text, text  # 4 latent channels made, 16 read

    pipeline = Pipeline.from_spec(with_changes(cogvideox, REGISTRY, settings=BASE))
    with pytest.raises(PipelineError) as refused:
        pipeline.swap("decoder", "sora-diffusers:wan-vae-decoder", weights=str(wan_folder / "vae"))
    assert "latent/wan-vae-" in message(refused) and "latent/cogvideox-vae-" in message(refused), message(refused)
    assert pipeline.nodes["decoder"].registered_name == "sora-diffusers:cogvideox-vae-decoder"


def test_a_4096_wide_text_encoder_is_refused_by_the_32_wide_transformer(wan: Any) -> None:
    wide = {"d_model": 4096, "d_kv": 4, "d_ff": 8, "num_layers": 1, "num_heads": 1}
    spec = with_changes(
        wan,
        REGISTRY,
        swaps={"text_encoder": "sora-diffusers:t5-encoder"},
        settings={"text_encoder": {"model": wide}, **BASE},
    )
    with pytest.raises(PipelineError) as refused:
        Pipeline.from_spec(spec)
    text = message(refused)
    assert "text_encoder.embeddings -> sampler.condition" in text, text
    assert "4096 (from text_encoder) vs 32 (from sampler)" in text, text
    assert "text/umt5-d4096@1" in text and "text/umt5-d32@1" in text, text


def test_a_sampler_passing_4096_wide_text_is_refused(wan: Any) -> None:
    """The sampler told the text is 4096 wide: the encoder (32) and the transformer it drives (32) both object."""
    spec = with_changes(wan, REGISTRY, settings={**BASE, "sampler": {**SIZE, "text_dim": 4096}})
    with pytest.raises(PipelineError) as refused:
        Pipeline.from_spec(spec)
    text = message(refused)
    assert "32 (from text_encoder) vs 4096 (from sampler)" in text, text
    assert "denoiser sora-diffusers:wan-transformer input 'condition'" in text, text
    assert "D=4096" in text and "D=32" in text, text


# --- sizes checked before running -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("frames", 10, "10 frames do not fit: frames must be 1 + 4k (1, 5, 9, 13, ...); nearest: 9 or 13"),
        ("frames", 2, "nearest: 1 or 5"),
        ("height", 20, "20 is not a multiple of spatial_compression * patch = 8 * 2 = 16; nearest: 16 or 32"),
        ("width", 40, "nearest: 32 or 48"),
    ],
)
def test_sizes_the_wan_vae_cannot_make_are_refused_with_the_nearest(
    wan: Any, field: str, value: int, expected: str
) -> None:
    spec = with_changes(wan, REGISTRY, settings={"sampler": {**SIZE, field: value}})
    with pytest.raises((ConfigError, PipelineError)) as refused:
        Pipeline.from_spec(spec)
    assert f"field '{field}' = {value}" in message(refused), message(refused)
    assert expected in message(refused), message(refused)


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("sampler.frames=10", "nearest: 9 or 13"),
        ("sampler.height=20", "nearest: 16 or 32"),
    ],
)
def test_generate_refuses_bad_sizes_before_running(
    wan_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, expected: str
) -> None:
    """``sora generate --model FOLDER --set ...`` exits 1 with the rule and the nearest valid values, and writes
    nothing."""
    from sora_core.cli.main import main

    output = tmp_path / "video.mp4"
    sizes = {"frames": "9", "height": "16", "width": "16"}
    sizes.pop(option.split(".")[1].split("=")[0])
    flags = [item for name, value in sizes.items() for item in (f"--{name}", value)]
    argv = ["generate", "--model", str(wan_folder), "a red ball", "-o", str(output), "--steps", "2", *flags]
    code = main([*argv, "--set", option, "--no-progress"])
    error = capsys.readouterr().err
    assert code == 1, error
    assert "error: pipeline" in error and expected in error, error
    assert not output.exists()
