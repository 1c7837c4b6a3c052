"""The denoiser stage's pieces: the particles, the frozen VAE encoder, the seeded captioned clips and the loss.

Everything is built through ``sora_core``'s registry by name, as the ``t2v`` pipeline builds it, so the trained
``save_pretrained`` directories drop into the pipeline (``weights:``) unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from sora_dit.losses import training_loss
from sora_synth.scene import render_tensor
from sora_synth.splits import training_example
from torch import Tensor

from sora_core import registry
from sora_core.errors import SoraError
from training.data import TRAIN
from training.synonyms import SYNONYM_STREAM, augment

__all__ = [
    "BYTE_TRANSFORMER",
    "DENOISER",
    "MINILM",
    "TEXT_ENCODERS",
    "VAE_ENCODER",
    "T2VStepLoss",
    "build_denoiser",
    "build_text_encoder",
    "caption_batch",
    "encode_latents",
    "latent_foreground",
    "load_vae_encoder",
    "resolve_vae",
    "t2v_step_loss",
]

VAE_ENCODER = "sora-vae:causal-vae-encoder"
VAE_DECODER = "sora-vae:causal-vae-decoder"
DENOISER = "sora-dit:dit-denoiser"
BYTE_TRANSFORMER = "sora-text:byte-transformer"
MINILM = "sora-text:minilm-l6"
#: The text encoders the denoiser can be trained on: whether each is trained jointly, and its space.
TEXT_ENCODERS: dict[str, tuple[bool, str]] = {
    BYTE_TRANSFORMER: (True, "text/sora-byte-transformer@1"),
    MINILM: (False, "text/minilm-l6@1"),
}


class VAEPathError(SoraError):
    """``--vae`` does not name a trained VAE encoder."""


class T2VStepLoss(NamedTuple):
    total: Tensor
    dropped: int


def resolve_vae(vae: str) -> tuple[Path | None, Path | None]:
    """The encoder and (when present) decoder directories of ``vae``; ``(None, None)`` for ``default``.

    ``vae`` is a ``train_vae`` run directory (holding ``encoder/`` and ``decoder/``) or an encoder's own
    ``save_pretrained`` directory (then a sibling ``decoder/`` is used when it exists).
    """
    if vae == "default":
        return None, None
    path = Path(vae)
    if (path / "encoder" / "config.json").is_file():
        encoder = path / "encoder"
    elif (path / "config.json").is_file():
        encoder = path
    else:
        raise VAEPathError(
            f"--vae {vae}: no trained VAE encoder there (expected {path}/encoder/config.json or {path}/config.json)",
            "pass the --out directory of training.train_vae (or its encoder/ subdirectory), or 'default'",
        )
    decoder = encoder.parent / "decoder"
    return encoder, decoder if (decoder / "config.json").is_file() else None


def load_vae_encoder(vae: str) -> Any:
    """The frozen VAE encoder of ``vae`` (see :func:`resolve_vae`; ``default``: the weights sora-vae ships)."""
    encoder_dir, _ = resolve_vae(vae)
    encoder = registry.load(VAE_ENCODER, weights=encoder_dir)
    encoder.eval()
    encoder.requires_grad_(False)
    return encoder


def build_text_encoder(name: str, seed: int, config: dict[str, Any] | None = None) -> Any:
    """The text encoder ``name``: a fresh byte transformer from ``seed`` (trained jointly), or frozen MiniLM."""
    if name not in TEXT_ENCODERS:
        raise SoraError(f"unknown text encoder {name!r}", f"use one of {', '.join(TEXT_ENCODERS)}")
    trained, _ = TEXT_ENCODERS[name]
    if trained:
        torch.manual_seed(seed)
        encoder = registry.create(name, **(config or {}))
        encoder.train()
        return encoder
    # the pretrained MiniLM, read offline from its package; padded to each batch's longest caption, not to 128
    # tokens: the result is the same (padding is masked) at a third of a training step's cost
    encoder = registry.create(name, pad_to_max_length=False)
    encoder.eval()
    encoder.requires_grad_(False)
    return encoder


def build_denoiser(vae_encoder: Any, text_encoder_name: str, text_dim: int, seed: int, config: dict[str, Any]) -> Any:
    """A fresh DiT denoiser (seeded) for the VAE's latent space and the text encoder's space and width."""
    vae = vae_encoder.config
    settings = {
        "latent_channels": vae.latent_channels,
        "latent_space": vae.latent_space,
        "text_dim": text_dim,
        "text_space": TEXT_ENCODERS[text_encoder_name][1],
        **config,
    }
    torch.manual_seed(seed + 1)
    denoiser = registry.create(DENOISER, **settings)
    denoiser.train()
    return denoiser


def caption_batch(
    seed: int, step: int, batch: int, frames: int = 9, height: int = 64, width: int = 64, synonym_rate: float = 0.0
) -> tuple[Tensor, list[str]]:
    """Training step ``step``'s clips ``(B, 3, T, H, W)`` and captions, a pure function of ``(seed, step)``.

    Drawn like :mod:`training.data` (``default_rng([TRAIN, seed, step])``) with sora-synth's training
    stream (held-out triples and templates excluded), so a resumed run sees exactly the same examples.
    """
    rng = np.random.default_rng([TRAIN, seed, step, 2])
    videos, captions = [], []
    for _ in range(batch):
        scene, written = training_example(rng, aspect=width / height)
        videos.append(render_tensor(scene, frames, height, width))
        captions.append(written.text)
    swaps = np.random.default_rng([TRAIN, seed, step, SYNONYM_STREAM])
    return torch.stack(videos), [augment(c, swaps, synonym_rate) for c in captions]


@torch.no_grad()
def encode_latents(vae_encoder: Any, video: Tensor) -> Tensor:
    """The posterior mean of ``video`` under the frozen VAE encoder."""
    mean, _ = vae_encoder.moments(video)
    return mean


def latent_foreground(latent: Tensor, threshold: float = 1.0) -> Tensor:
    """``(B, 1, t, h, w)``: 1 where a normalised latent differs from its clip's background latent (the
    per-channel median over positions) by more than ``threshold`` in some channel; objects, dilated."""
    background = latent.flatten(2).median(dim=-1).values[:, :, None, None, None]
    return ((latent - background).abs().amax(dim=1, keepdim=True) > threshold).to(latent.dtype)


def t2v_step_loss(
    denoiser: Any,
    text_encoder: Any,
    latent: Tensor,
    captions: list[str],
    generator: torch.Generator,
    cfg_dropout: float,
    foreground_weight: float = 0.0,
    *,
    time_shift: float = 1.0,
) -> T2VStepLoss:
    """Rectified-flow loss on ``latent`` given ``captions``, each dropped to "" with probability ``cfg_dropout``.

    Times, noise and the dropout are all drawn from ``generator``; the text encoder runs with gradients
    when it is being trained (its parameters require them), so it learns with the denoiser. With
    ``foreground_weight`` w, object positions (:func:`latent_foreground`) weigh ``1 + w`` in the loss:
    objects cover a small share of a clip, and without it backgrounds are learnt long before objects.
    ``time_shift`` s > 1 moves the logit-normal times towards noise (``t -> s t / (1 + (s - 1) t)``).
    """
    drop = (torch.rand(len(captions), generator=generator) < cfg_dropout).tolist()
    texts = ["" if d else c for c, d in zip(captions, drop, strict=True)]
    encoded = text_encoder(text=texts)
    weight = 1.0 + foreground_weight * latent_foreground(latent) if foreground_weight else None
    loss = training_loss(
        denoiser, latent, encoded["embeddings"], encoded["mask"], generator=generator, weight=weight, shift=time_shift
    )
    return T2VStepLoss(loss, sum(drop))
