"""Parity with diffusers: a pipeline imported from a diffusers folder gives diffusers' own video for a seed.

Each case imports the tiny folder as a sora pipeline (``import_spec``), sets its size, steps, guidance and
negative prompt with ``with_changes``, runs it with ``seed=7``, and runs the family's diffusers pipeline loaded
from the same folder with a ``torch.Generator`` seeded as the sora executor seeds the sampler node
(``node_seed(7, "sampler")``). sora's video is in [-1, 1] with channels first, diffusers' ``output_type="pt"``
in [0, 1] with frames first, so ours is mapped before comparing.

Beyond the 12 base cases (3 families x 2 and 5 steps x guidance on and off): CogVideoX's DPM-Solver++ and
Wan with FlowMatchEuler in place of the folder's scheduler, CogVideoX's dynamic guidance, LTX-Video's guidance
rescale, two prompts in one batch, and a negative control showing another seed is far from diffusers' video.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import diffusers
import pytest
import torch

from sora_core import registry
from sora_core.importers import import_spec, importer_for_folder
from sora_core.pipeline import Pipeline
from sora_core.pipeline.execute import node_seed
from sora_core.pipeline.pipeline import with_changes

REGISTRY = registry.default_registry
PROMPT = "a red ball"
NEGATIVE = "blurry"
SEED = 7
FRAMES = 9
TOLERANCE = 1e-5
REFERENCE = {"wan": diffusers.WanPipeline, "cogvideox": diffusers.CogVideoXPipeline, "ltx": diffusers.LTXPipeline}


def size_of(family: str) -> int:
    return 32 if family == "ltx" else 16  # LTX-Video at 32x32: an 8x8 latent (the tiny VAE compresses 4x)


def ours(
    folder: Path,
    family: str,
    steps: int,
    guidance: float,
    *,
    seed: int = SEED,
    prompts: tuple[str, ...] = (PROMPT,),
    swaps: dict[str, str] | None = None,
    scheduler: dict[str, Any] | None = None,
    sampler: dict[str, Any] | None = None,
) -> torch.Tensor:
    """sora's video for the folder, mapped to diffusers' ``output_type="pt"`` layout and range."""
    size = size_of(family)
    spec = import_spec(importer_for_folder(folder, REGISTRY), folder)
    settings = {
        "sampler": {"frames": FRAMES, "height": size, "width": size, "guidance_scale": guidance, **(sampler or {})},
        "scheduler": {"steps": steps, **({"scheduler": scheduler} if scheduler is not None else {})},
        "prompts": {"negative_prompt": NEGATIVE},
    }
    pipeline = Pipeline.from_spec(with_changes(spec, REGISTRY, swaps=swaps, settings=settings))
    video = pipeline.run({"prompt": list(prompts)}, seed=seed)["video"]
    return (video / 2 + 0.5).clamp(0, 1).permute(0, 2, 1, 3, 4)


def theirs(
    folder: Path,
    family: str,
    steps: int,
    guidance: float,
    *,
    prompts: tuple[str, ...] = (PROMPT,),
    components: dict[str, Any] | None = None,
    **options: Any,
) -> torch.Tensor:
    """diffusers' own pipeline on the same folder, seeded as sora seeds the sampler node."""
    size = size_of(family)
    pipe = REFERENCE[family].from_pretrained(folder, **(components or {}))
    pipe.set_progress_bar_config(disable=True)
    generator = torch.Generator().manual_seed(node_seed(SEED, "sampler"))
    return pipe(
        list(prompts),
        negative_prompt=[NEGATIVE] * len(prompts),
        num_inference_steps=steps,
        guidance_scale=guidance,
        generator=generator,
        max_sequence_length=16,
        output_type="pt",
        height=size,
        width=size,
        num_frames=FRAMES,
        **options,
    ).frames


@cache
def reference(folder: Path, family: str, steps: int, guidance: float) -> torch.Tensor:
    """diffusers' video with the folder's own scheduler, computed once per case (the negative control reuses it)."""
    return theirs(folder, family, steps, guidance)


def assert_same(a: torch.Tensor, b: torch.Tensor) -> None:
    assert a.shape == b.shape, (a.shape, b.shape)
    assert torch.isfinite(a).all()
    difference = float((a - b).abs().max())
    assert difference <= TOLERANCE, f"max |sora - diffusers| = {difference:.3g} > {TOLERANCE}"


@pytest.fixture(params=["wan", "cogvideox", "ltx"])
def family(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def folder(family: str, tiny_root: Path) -> Path:
    return tiny_root / family


@pytest.mark.parametrize("steps", [2, 5])
@pytest.mark.parametrize("guidance", [1.0, 5.0], ids=["unguided", "guided"])
def test_imported_pipeline_gives_diffusers_video(folder: Path, family: str, steps: int, guidance: float) -> None:
    assert_same(ours(folder, family, steps, guidance), reference(folder, family, steps, guidance))


def test_cogvideox_dpm_scheduler(cogvideox_folder: Path) -> None:
    """CogVideoX's DPM-Solver++ (second order, fresh noise each step) on the folder's scheduler config."""
    # the particle swapped in starts fresh (with_changes drops the folder), so it is given the folder's config
    config = diffusers.CogVideoXDDIMScheduler.from_pretrained(cogvideox_folder / "scheduler").config
    fields = {k: v for k, v in config.items() if not k.startswith("_")}
    video = ours(
        cogvideox_folder, "cogvideox", 3, 5.0, swaps={"scheduler": "sora-diffusers:cogvideox-dpm"}, scheduler=fields
    )
    expected = theirs(
        cogvideox_folder,
        "cogvideox",
        3,
        5.0,
        components={"scheduler": diffusers.CogVideoXDPMScheduler.from_config(config)},
    )
    assert_same(video, expected)


def test_wan_with_flow_match_euler(wan_folder: Path) -> None:
    """Wan with FlowMatchEulerDiscreteScheduler (shift 3) in place of the folder's UniPC."""
    swaps = {"scheduler": "sora-diffusers:flow-match-euler"}
    video = ours(wan_folder, "wan", 3, 5.0, swaps=swaps, scheduler={"shift": 3.0})
    scheduler = diffusers.FlowMatchEulerDiscreteScheduler(shift=3.0)
    expected = theirs(wan_folder, "wan", 3, 5.0, components={"scheduler": scheduler})
    assert_same(video, expected)


def test_cogvideox_dynamic_guidance(cogvideox_folder: Path) -> None:
    """CogVideoX's cosine guidance schedule (``use_dynamic_cfg``)."""
    video = ours(cogvideox_folder, "cogvideox", 3, 5.0, sampler={"dynamic_guidance": True})
    assert_same(video, theirs(cogvideox_folder, "cogvideox", 3, 5.0, use_dynamic_cfg=True))


def test_ltx_guidance_rescale(ltx_folder: Path) -> None:
    """LTX-Video's ``guidance_rescale`` (the guided prediction's std pulled towards the conditional one's)."""
    video = ours(ltx_folder, "ltx", 3, 5.0, sampler={"guidance_rescale": 0.7})
    assert_same(video, theirs(ltx_folder, "ltx", 3, 5.0, guidance_rescale=0.7))


def test_two_prompts_in_one_batch(folder: Path, family: str) -> None:
    """Two prompts: the noise is drawn for the batch at once and each guided against its own negative prompt."""
    prompts = ("a red ball", "a small dog moving left")
    video = ours(folder, family, 2, 5.0, prompts=prompts)
    assert video.shape[0] == 2
    assert_same(video, theirs(folder, family, 2, 5.0, prompts=prompts))


def test_another_seed_gives_another_video(folder: Path, family: str) -> None:
    """The negative control: another seed is far from diffusers' seed-7 video, so the comparisons can fail."""
    difference = float((ours(folder, family, 2, 5.0, seed=SEED + 1) - reference(folder, family, 2, 5.0)).abs().max())
    assert difference > 1e-3, f"seed {SEED + 1} gave diffusers' seed-{SEED} video (max diff {difference:.3g})"


def test_cogvideox_15_pads_latent_frames_as_diffusers_does(tmp_path: Path) -> None:
    """A CogVideoX 1.5-style transformer (2 latent frames per patch, rotary positions): 9 frames give 3 latent
    frames, padded to 4 in front and dropped after sampling, exactly as CogVideoXPipeline pads."""
    from sora_diffusers.tiny import tiny_pipeline

    pipe = tiny_pipeline("cogvideox")
    config = {k: v for k, v in pipe.transformer.config.items() if not k.startswith("_")}
    config.update(patch_size_t=2, use_rotary_positional_embeddings=True, num_attention_heads=2, attention_head_dim=16)
    torch.manual_seed(0)
    pipe.transformer = diffusers.CogVideoXTransformer3DModel.from_config(config)
    folder = tmp_path / "cogvideox-15"
    pipe.save_pretrained(folder)
    video = ours(folder, "cogvideox", 3, 5.0)
    assert video.shape == (1, FRAMES, 3, 16, 16)
    assert_same(video, theirs(folder, "cogvideox", 3, 5.0))


@pytest.mark.parametrize("family", ["wan", "cogvideox", "ltx"])
def test_bfloat16_latents_match_diffusers_on_cpu(family: str, request: pytest.FixtureRequest) -> None:
    """Text encoder and transformer in bfloat16 (what `--dtype bfloat16` does), compared before the VAE: the sampled
    latents equal those of diffusers' pipeline loaded with dtype=bfloat16 (the modules each library keeps in
    float32 kept alike, CogVideoX's latents kept in the text's dtype between steps as its pipeline keeps them)."""
    from sora_core.pipeline.pipeline import placed_spec

    folder = request.getfixturevalue(f"{family}_folder")
    size = size_of(family)
    spec = import_spec(importer_for_folder(folder, REGISTRY), folder)
    settings = {
        "sampler": {"frames": FRAMES, "height": size, "width": size, "guidance_scale": 5.0},
        "scheduler": {"steps": 3},
        "prompts": {"negative_prompt": NEGATIVE},
    }
    spec = placed_spec(with_changes(spec, REGISTRY, settings=settings), REGISTRY, None, "bfloat16")
    spec = spec.model_copy(update={"outputs": {**spec.outputs, "latent": "sampler.latent"}})
    pipeline = Pipeline.from_spec(spec)
    assert pipeline.nodes["transformer"].model.dtype == torch.bfloat16
    latent = pipeline.run({"prompt": [PROMPT]}, seed=SEED)["latent"]

    pipe = REFERENCE[family].from_pretrained(folder, dtype=torch.bfloat16)
    pipe.set_progress_bar_config(disable=True)
    theirs = pipe(
        PROMPT,
        negative_prompt=NEGATIVE,
        num_inference_steps=3,
        guidance_scale=5.0,
        generator=torch.Generator().manual_seed(node_seed(SEED, "sampler")),
        max_sequence_length=16,
        output_type="latent",
        height=size,
        width=size,
        num_frames=FRAMES,
    ).frames.float()
    if family == "cogvideox":
        theirs = theirs.permute(0, 2, 1, 3, 4)  # frames first there
    if family == "ltx":
        frames, side = 1 + (FRAMES - 1) // 4, size // 4
        theirs = diffusers.LTXPipeline._unpack_latents(theirs, frames, side, side, 1, 1)  # packed tokens there
    assert latent.shape == theirs.shape
    assert float((latent - theirs).abs().max()) <= TOLERANCE
