"""The ``diffusers`` importer: a pipeline spec from a Wan, CogVideoX or LTX-Video model folder.

It reads ``model_index.json`` and each component's JSON config (no weights, no torch, no network), checks that
the folder has every component of its family and that each is of a class sora-diffusers runs, and writes
the spec: prompts and negative prompts, tokenizer, text encoder, transformer, scheduler (its steps and flow
shift shown), the guided sampler configured as the family's diffusers pipeline samples (its default size,
guidance and batching), and the VAE decoder. The particles named are this plugin's own: the folder's class
names only select among them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sora_core.errors import SpecError
from sora_diffusers import folders

#: The transformers text encoder classes and the encoder family they are.
TEXT_ENCODERS = {"T5EncoderModel": "t5", "UMT5EncoderModel": "umt5"}
#: diffusers scheduler classes and the particles that run them.
SCHEDULERS = {
    "FlowMatchEulerDiscreteScheduler": "sora-diffusers:flow-match-euler",
    "UniPCMultistepScheduler": "sora-diffusers:unipc-multistep",
    "CogVideoXDDIMScheduler": "sora-diffusers:cogvideox-ddim",
    "CogVideoXDPMScheduler": "sora-diffusers:cogvideox-dpm",
}


@dataclass(frozen=True)
class Family:
    """What a diffusers pipeline class runs, and how its pipeline samples by default."""

    name: str
    transformer_class: str
    vae_class: str
    transformer: str
    decoder: str
    max_sequence_length: int
    guidance_scale: float
    guidance_batching: str
    frames: int
    height: int
    width: int
    text_options: tuple[tuple[str, bool], ...]
    noise_layout: str = "channels_first"


FAMILIES = {
    "WanPipeline": Family(
        "wan", "WanTransformer3DModel", "AutoencoderKLWan", "sora-diffusers:wan-transformer",
        "sora-diffusers:wan-vae-decoder", 512, 5.0, "separate", 81, 480, 832,
        (("pass_mask", True), ("zero_padding", True)),
    ),
    "CogVideoXPipeline": Family(
        "cogvideox", "CogVideoXTransformer3DModel", "AutoencoderKLCogVideoX", "sora-diffusers:cogvideox-transformer",
        "sora-diffusers:cogvideox-vae-decoder", 226, 6.0, "batched", 49, 480, 720,
        (("pass_mask", False), ("zero_padding", False)), "frames_first",
    ),
    "LTXPipeline": Family(
        "ltx", "LTXVideoTransformer3DModel", "AutoencoderKLLTXVideo", "sora-diffusers:ltx-transformer",
        "sora-diffusers:ltx-vae-decoder", 128, 3.0, "batched", 161, 512, 704,
        (("pass_mask", False), ("zero_padding", False)),
    ),
}  # fmt: skip
COMPONENTS = ("tokenizer", "text_encoder", "transformer", "vae", "scheduler")


class DiffusersImporter:
    """Reads diffusers pipeline folders (and Hugging Face cache snapshots of them)."""

    name = "diffusers"
    description = "diffusers Wan, CogVideoX and LTX-Video folders (model_index.json) and their cache snapshots"

    def claims(self, path: Path) -> bool:
        """A folder with ``model_index.json``, or a Hugging Face cache entry (``to_spec`` then says what is wrong
        with it, e.g. which snapshot to pass)."""
        if path.name.startswith("models--") and (path / "snapshots").is_dir():
            return True
        return (path / folders.MODEL_INDEX).is_file()

    def to_spec(self, path: Path) -> dict[str, Any]:
        folder = folders.locate(path)
        index = folders.read_model_index(folder)
        family = self._family(index, folder)
        classes = self._components(index, folder, family)
        root = folder.path.absolute()
        vae = folders.component_config(root / "vae", folder, (family.vae_class,), "_class_name")
        transformer = folders.component_config(root / "transformer", folder, (family.transformer_class,), "_class_name")
        encoder = folders.component_config(root / "text_encoder", folder, tuple(TEXT_ENCODERS), "architectures")
        scheduler = folders.component_config(root / "scheduler", folder, tuple(SCHEDULERS), "_class_name")
        folders.check_component(root / "tokenizer", folder)
        temporal, spatial = _vae_compression(family, vae)
        patch = _patch(family, transformer)
        encoder_family = TEXT_ENCODERS[classes["text_encoder"]]
        text_dim = int(encoder.get("d_model", 0))
        sampler = {
            "family": family.name,
            "latent_channels": int(transformer.get("in_channels", 16)),
            "temporal_compression": temporal,
            "spatial_compression": spatial,
            "patch_t": patch[0],
            "patch_h": patch[1],
            "patch_w": patch[2],
            **_default_size(family, transformer, spatial, temporal),
            "guidance_scale": family.guidance_scale,
            "guidance_batching": family.guidance_batching,
            "noise_layout": family.noise_layout,
            "text_dim": text_dim,
            "text_space": f"text/{encoder_family}-d{text_dim}@1",
        }
        if family.name == "cogvideox":
            sampler["sample_in_text_dtype"] = True
        if family.name == "cogvideox" and not transformer.get("use_rotary_positional_embeddings"):
            # sincos positions made for one size: CogVideoX 2b knows only its sample size
            sampler["trained_size"] = [sampler["frames"], sampler["height"], sampler["width"]]
        transformer_config: dict[str, Any] = {
            "vae_temporal_compression": temporal,
            "vae_spatial_compression": spatial,
            "text_encoder": encoder_family,
        }
        shift = {k: scheduler[k] for k in ("shift", "flow_shift") if k in scheduler}
        scheduler_config: dict[str, Any] = {"steps": 50, **({"scheduler": shift} if shift else {})}
        tokenizer_config: dict[str, Any] = {"max_length": _max_length(family, transformer, root / "tokenizer")}
        if family.name == "wan":
            tokenizer_config["clean"] = "wan"
        weights = {name: str(root / name) for name in COMPONENTS}
        return {
            "name": f"{family.name}-{_label(root)}",
            "description": (
                f"{index['_class_name']} from {root}: prompts and negative prompts, {classes['tokenizer']} "
                f"tokenizer, {classes['text_encoder']}, {family.transformer_class}, {classes['scheduler']} "
                f"({', '.join(f'{k} {v}' for k, v in shift.items()) or 'no shift'}), guided sampling as "
                f"{index['_class_name']} does, {family.vae_class} decoder"
            ),
            "inputs": {"prompt": "prompts.prompt"},
            "outputs": {"video": "decoder.video"},
            "nodes": {
                "prompts": {"particle": "sora-diffusers:negative-prompts", "config": {"negative_prompt": ""}},
                "tokenizer": {
                    "particle": "sora-diffusers:t5-tokenizer",
                    "weights": weights["tokenizer"],
                    "config": tokenizer_config,
                },
                "text_encoder": {
                    "particle": "sora-diffusers:t5-encoder",
                    "weights": weights["text_encoder"],
                    "config": dict(family.text_options),
                },
                "transformer": {
                    "particle": family.transformer,
                    "weights": weights["transformer"],
                    "config": transformer_config,
                },
                "scheduler": {
                    "particle": SCHEDULERS[classes["scheduler"]],
                    "weights": weights["scheduler"],
                    "config": scheduler_config,
                },
                "sampler": {
                    "particle": "sora-diffusers:guided-sampler",
                    "config": sampler,
                    "components": {"denoiser": "transformer", "scheduler": "scheduler"},
                },
                "decoder": {"particle": family.decoder, "weights": weights["vae"]},
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

    def _family(self, index: dict[str, Any], folder: folders.ModelFolder) -> Family:
        name = index["_class_name"]
        if name not in FAMILIES:
            raise SpecError(
                f"{folder.path / folders.MODEL_INDEX} is a {name}; sora-diffusers imports " + ", ".join(FAMILIES),
                "pass a Wan 2.1, CogVideoX or LTX-Video text-to-video folder",
            )
        if index.get("boundary_ratio") is not None or _entry(index, "transformer_2")[1] is not None:
            raise SpecError(
                f"{folder.path} is a two-expert Wan 2.2 folder (transformer_2, boundary_ratio), which sora-diffusers "
                "does not run yet",
                "use a Wan 2.1 folder",
            )
        return FAMILIES[name]

    def _components(self, index: dict[str, Any], folder: folders.ModelFolder, family: Family) -> dict[str, str]:
        expected = {
            "tokenizer": None,
            "text_encoder": tuple(TEXT_ENCODERS),
            "transformer": (family.transformer_class,),
            "vae": (family.vae_class,),
            "scheduler": tuple(SCHEDULERS),
        }
        found: dict[str, str] = {}
        for component, allowed in expected.items():
            library, cls = _entry(index, component)
            where = folder.path / component
            if cls is None:
                raise SpecError(
                    f"{folder.path / folders.MODEL_INDEX} has no {component} component",
                    f"a {index['_class_name']} folder needs {', '.join(COMPONENTS)}; re-download the folder",
                )
            if allowed is not None and cls not in allowed:
                raise SpecError(
                    f"{where}: model_index.json names a {library}.{cls} for {component}, which sora-diffusers does "
                    "not run",
                    f"{component} must be one of {', '.join(allowed)}",
                )
            if not where.is_dir():
                raise SpecError(
                    f"{where} is missing: model_index.json lists a {cls} {component}",
                    f"re-download the folder's {component}/ subfolder",
                )
            found[component] = cls
        return found


def _entry(index: dict[str, Any], component: str) -> tuple[str | None, str | None]:
    value = index.get(component)
    if isinstance(value, list) and len(value) == 2 and all(v is None or isinstance(v, str) for v in value):
        return value[0], value[1]
    return None, None


def _label(root: Path) -> str:
    import re

    name = root.name
    if root.parent.name == "snapshots":
        name = root.parent.parent.name.removeprefix("models--").split("--")[-1]
    return re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-") or "model"


def _vae_compression(family: Family, vae: dict[str, Any]) -> tuple[int, int]:
    if family.name == "wan":
        return int(vae.get("scale_factor_temporal", 4)), int(vae.get("scale_factor_spatial", 8))
    if family.name == "cogvideox":
        return int(vae.get("temporal_compression_ratio", 4)), 2 ** (len(vae.get("block_out_channels", [0] * 4)) - 1)
    patch, patch_t = int(vae.get("patch_size", 4)), int(vae.get("patch_size_t", 1))
    scaling = vae.get("spatio_temporal_scaling", [True, True, True, False])
    spatial = vae.get("spatial_compression_ratio") or patch * 2 ** sum(bool(s) for s in scaling)
    temporal = vae.get("temporal_compression_ratio") or patch_t * 2 ** sum(bool(s) for s in scaling)
    return int(temporal), int(spatial)


def _patch(family: Family, transformer: dict[str, Any]) -> tuple[int, int, int]:
    if family.name == "wan":
        t, h, w = transformer.get("patch_size", [1, 2, 2])
        return int(t), int(h), int(w)
    if family.name == "cogvideox":
        p = int(transformer.get("patch_size", 2))
        return int(transformer.get("patch_size_t") or 1), p, p
    p = int(transformer.get("patch_size", 1))
    return int(transformer.get("patch_size_t", 1)), p, p


def _default_size(family: Family, transformer: dict[str, Any], spatial: int, temporal: int) -> dict[str, int]:
    if family.name == "cogvideox" and "sample_height" in transformer:
        return {
            "frames": int(transformer.get("sample_frames", family.frames)),
            "height": int(transformer["sample_height"]) * spatial,
            "width": int(transformer["sample_width"]) * spatial,
        }
    return {"frames": family.frames, "height": family.height, "width": family.width}


def _max_length(family: Family, transformer: dict[str, Any], tokenizer: Path) -> int:
    if family.name == "cogvideox":  # its video positions start after max_text_seq_length text positions
        return int(transformer.get("max_text_seq_length", family.max_sequence_length))
    length = family.max_sequence_length
    config_path = tokenizer / "tokenizer_config.json"
    if config_path.is_file():
        data = folders.read_json_file(config_path, "the tokenizer")
        limit = data.get("model_max_length") if isinstance(data, dict) else None
        if isinstance(limit, int) and 0 < limit < length:
            length = limit
    return length
