"""Give a trained VAE per-channel latent normalisation: centred, unit-variance latents for the denoiser.

    python -m training.normalise_vae --vae /tmp/runs/vae --clips 512

Encodes ``--clips`` training clips with the raw encoder (any normalisation already set is ignored),
measures each latent channel's mean and standard deviation over clips, frames and positions, and
rewrites ``VAE/encoder`` and ``VAE/decoder`` with ``latent_shift`` = the means and ``latent_scale`` =
1 / the deviations. The weights are unchanged; only the configs differ, so the decoder still inverts
the encoder. Rectified flow starts from unit noise: latents of another scale would make the sampler's
first steps and its last ones unbalanced.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from sora_core import registry
from training.data import render_batch, train_scenes
from training.t2v_objective import VAE_DECODER, VAE_ENCODER

#: Run seed of the clips measured: a stream of its own, so no training batch is reused.
STATS_SEED = 7


def _with_normalisation(particle: Any, name: str, shift: list[float] | None, scale: list[float] | None) -> Any:
    config = {**particle.config.model_dump(), "latent_shift": shift, "latent_scale": scale}
    copy = registry.create(name, **config)
    copy.load_state_dict(particle.state_dict())
    return copy.eval()


@torch.no_grad()
def latent_statistics(encoder: Any, clips: int, batch: int = 32) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of ``encoder``'s raw posterior means over ``clips`` training clips."""
    raw = _with_normalisation(encoder, VAE_ENCODER, None, None)
    latents = []
    for step in range(0, clips, batch):
        video = render_batch(train_scenes(STATS_SEED, step, min(batch, clips - step)))
        latents.append(raw.moments(video)[0])
    values = torch.cat(latents).transpose(0, 1).flatten(1)
    return values.mean(dim=1).tolist(), values.std(dim=1).tolist()


def normalise(vae: Path, clips: int) -> tuple[list[float], list[float]]:
    """Rewrite ``vae/encoder`` and ``vae/decoder`` with the measured normalisation; returns (shift, scale)."""
    encoder = registry.load(VAE_ENCODER, weights=vae / "encoder")
    decoder = registry.load(VAE_DECODER, weights=vae / "decoder")
    mean, std = latent_statistics(encoder, clips)
    scale = [1.0 / max(s, 1e-6) for s in std]
    _with_normalisation(encoder, VAE_ENCODER, mean, scale).save_pretrained(vae / "encoder")
    _with_normalisation(decoder, VAE_DECODER, mean, scale).save_pretrained(vae / "decoder")
    return mean, scale


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training.normalise_vae", description=__doc__.split("\n\n")[0])
    parser.add_argument("--vae", required=True, type=Path, help="training.train_vae's --out directory")
    parser.add_argument("--clips", type=int, default=512, help="training clips to measure")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    mean, scale = normalise(args.vae, args.clips)
    print("latent_shift", [round(m, 4) for m in mean])
    print("latent_scale", [round(s, 4) for s in scale])


if __name__ == "__main__":
    main()
