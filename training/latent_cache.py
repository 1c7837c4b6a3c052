"""A fixed set of training clips encoded once by the frozen VAE and re-captioned each time one is drawn.

Encoding a 9x64x64 clip costs about as much as a denoiser step on it, so encoding every clip afresh would
double stage 2's cost on a CPU. With ``--cache-clips N`` the first ``N`` scenes of a dedicated seed stream
are encoded once (``OUT/latent-cache.safetensors``, reused by a resumed run) and each training step draws
``batch`` of them, each with a freshly drawn caption (template, word order, synonyms) and, in the loss,
fresh noise and time. Scene ``i`` of run seed ``seed`` is ``default_rng([TRAIN, seed, i, 5])``; the draw of
step ``step`` is ``default_rng([TRAIN, seed, step, 2])``, so a resumed run sees the same batches.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from sora_synth.captions import caption
from sora_synth.scene import Scene, render_tensor, sample_scene
from sora_synth.splits import HELDOUT_TRIPLES, TRAINING_TEMPLATES
from torch import Tensor

from sora_core.atomic import atomic_path
from sora_core.safetensors_io import sha256_file
from training.data import TRAIN
from training.synonyms import SYNONYM_STREAM, augment

__all__ = ["CACHE_FILE", "cache_scenes", "cached_batch", "load_or_encode", "run_cache"]

CACHE_FILE = "latent-cache.safetensors"
_SCENE_STREAM = 5
_STEP_STREAM = 2


def cache_scenes(seed: int, count: int, aspect: float = 1.0, p_two: float = 0.4) -> list[Scene]:
    """The ``count`` training scenes of the cache of run seed ``seed`` (held-out triples excluded), each holding
    two objects with probability ``p_two`` (0.4: sora-synth's training stream)."""
    return [
        sample_scene(
            np.random.default_rng([TRAIN, seed, i, _SCENE_STREAM]), exclude=HELDOUT_TRIPLES, aspect=aspect, p_two=p_two
        )
        for i in range(count)
    ]


#: Makes scene ``i``'s clip ``(3, T, H, W)``: ``render(i, scene, frames, height, width)``.
Render = Callable[[int, Scene, int, int, int], Tensor]


def _render_clean(index: int, scene: Scene, frames: int, height: int, width: int) -> Tensor:
    return render_tensor(scene, frames, height, width)


@torch.no_grad()
def _encode(
    vae_encoder: Any, scenes: list[Scene], frames: int, height: int, width: int, chunk: int, render: Render
) -> Tensor:
    parts = []
    for start in range(0, len(scenes), chunk):
        picked = range(start, min(start + chunk, len(scenes)))
        video = torch.stack([render(i, scenes[i], frames, height, width) for i in picked])
        parts.append(vae_encoder.moments(video)[0])
        done = min(start + chunk, len(scenes))
        if done % (chunk * 16) == 0 or done == len(scenes):
            print(f"encoded {done}/{len(scenes)} cached clips", flush=True)
    return torch.cat(parts)


def load_or_encode(
    path: Path,
    vae_encoder: Any,
    scenes: list[Scene],
    key: dict[str, Any],
    frames: int,
    height: int,
    width: int,
    render: Render = _render_clean,
) -> Tensor:
    """The cached latents at ``path`` when they were made for ``key``; otherwise encode ``scenes`` (each clip
    made by ``render``, by default the clean render) and save them.

    ``key`` (the VAE, seed, clip count and size, and whatever ``render`` depends on) is stored in the file's
    metadata; a cache made for anything else, or one that cannot be read, is encoded again rather than trusted.
    """
    wanted = json.dumps(key, sort_keys=True)
    if path.is_file():
        try:
            with safe_open(str(path), framework="pt") as handle:
                stored = (handle.metadata() or {}).get("key")
            if stored == wanted:
                return load_file(str(path))["latents"]
        except (SafetensorError, OSError, KeyError):
            pass
    latents = _encode(vae_encoder, scenes, frames, height, width, chunk=32, render=render).contiguous()
    with atomic_path(path) as temporary:
        save_file({"latents": latents}, str(temporary), metadata={"key": wanted})
    return latents


def cached_batch(
    seed: int, step: int, batch: int, scenes: list[Scene], latents: Tensor, synonym_rate: float = 0.0
) -> tuple[Tensor, list[str]]:
    """Training step ``step``'s latents ``(B, c, t, h, w)`` drawn from the cache, and a fresh caption for each
    (its attribute words swapped for training-only synonyms with probability ``synonym_rate``)."""
    rng = np.random.default_rng([TRAIN, seed, step, _STEP_STREAM])
    picks = rng.integers(len(scenes), size=batch)
    captions = [caption(scenes[i], rng, templates=TRAINING_TEMPLATES).text for i in picks]
    swaps = np.random.default_rng([TRAIN, seed, step, SYNONYM_STREAM])
    return latents[torch.from_numpy(picks)], [augment(c, swaps, synonym_rate) for c in captions]


def run_cache(
    out: Path,
    vae: str,
    vae_encoder: Any,
    encoder_dir: Path | None,
    seed: int,
    clips: int,
    size: tuple[int, int, int],
    two_object_rate: float = 0.4,
    variant: tuple[str, Render] | None = None,
) -> tuple[list[Scene], Tensor]:
    """A training run's cached scenes and their latents, in ``out``: encoded now unless ``out`` already holds
    them for this VAE (``vae``, its files in ``encoder_dir``), seed, clip count and ``(frames, height, width)``.

    ``variant`` ``(name, render)`` caches the same scenes made another way (e.g. roughened clips) in a file
    of its own, ``latent-cache-NAME.safetensors``; ``name`` must change whenever ``render`` does."""
    frames, height, width = size
    scenes = cache_scenes(seed, clips, aspect=width / height, p_two=two_object_rate)
    files = [encoder_dir / "config.json", encoder_dir / "model.safetensors"] if encoder_dir else []
    key: dict[str, Any] = {
        "vae": vae if vae == "default" else str(Path(vae).resolve()),
        "vae_files": [sha256_file(f) for f in files if f.is_file()],
        "seed": seed,
        "clips": clips,
        "size": [frames, height, width],
    }
    if two_object_rate != 0.4:  # caches made before the option keep their key
        key["two_object_rate"] = two_object_rate
    out.mkdir(parents=True, exist_ok=True)
    if variant is None:
        return scenes, load_or_encode(out / CACHE_FILE, vae_encoder, scenes, key, frames, height, width)
    name, render = variant
    path = out / CACHE_FILE.replace(".safetensors", f"-{name}.safetensors")
    return scenes, load_or_encode(path, vae_encoder, scenes, {**key, "variant": name}, frames, height, width, render)
