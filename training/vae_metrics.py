"""Reconstruction figures for the VAE stage: PSNR, per-object colour error and per-object mask IoU.

Each pixel of a clip is labelled with the nearest of the scene's colours (background or an object's),
in the ground truth and in the reconstruction alike; an object's IoU compares those two labelings
(position and shape preserved), its colour error is the distance between the true colour and the mean
reconstructed colour over the object's interior (where the ground truth is exactly the object's colour).
Last, sora-synth's evaluator reads the reconstruction against a caption of the scene: whether the VAE keeps
what the text-to-video benchmark will measure (colour, shape, motion, count).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sora_synth.captions import caption
from sora_synth.evaluate import ATTRIBUTES, score
from sora_synth.scene import Scene
from sora_synth.vocabulary import BACKGROUNDS, COLOURS

__all__ = ["ClipFigures", "blur_baseline", "clip_figures", "psnr", "summarise"]


@dataclass(frozen=True)
class ClipFigures:
    psnr: float
    colour_errors: tuple[float, ...]  # one per object, RGB distance on the 0..255 scale
    ious: tuple[float, ...]  # one per object
    evaluator: tuple[float, ...]  # per attribute of ATTRIBUTES: 1 when the evaluator reads the caption's value


def psnr(video: torch.Tensor, reconstruction: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB of a [-1, 1] clip (peak-to-peak 2)."""
    mse = F.mse_loss(reconstruction.float().clamp(-1, 1), video.float()).item()
    return float(10 * np.log10(4.0 / max(mse, 1e-12)))


def _rgb(video: torch.Tensor) -> np.ndarray:
    """(3, T, H, W) in [-1, 1] -> (T, H, W, 3) float on 0..255."""
    return ((video.detach().float().clamp(-1, 1).numpy() + 1.0) * 127.5).transpose(1, 2, 3, 0)


def _labels(rgb: np.ndarray, palette: np.ndarray) -> np.ndarray:
    distances = np.linalg.norm(rgb[..., None, :] - palette, axis=-1)
    return distances.argmin(-1)


def clip_figures(scene: Scene, video: torch.Tensor, reconstruction: torch.Tensor) -> ClipFigures:
    """The figures of one clip ``(3, T, H, W)`` and its reconstruction."""
    palette = np.array([BACKGROUNDS[scene.background], *(COLOURS[o.colour] for o in scene.objects)], dtype=np.float64)
    truth, recon = _rgb(video), _rgb(reconstruction)
    true_labels, recon_labels = _labels(truth, palette), _labels(recon, palette)
    colour_errors, ious = [], []
    for index in range(1, len(palette)):
        interior = np.linalg.norm(truth - palette[index], axis=-1) < 1.5
        mean = recon[interior].mean(0) if interior.any() else palette[0]
        colour_errors.append(float(np.linalg.norm(mean - palette[index])))
        a, b = true_labels == index, recon_labels == index
        ious.append(float((a & b).sum() / max(1, (a | b).sum())))
    described = caption(scene, np.random.default_rng(0)).text
    agrees = tuple(score(reconstruction.detach().float(), described).as_list())
    return ClipFigures(psnr(video, reconstruction), tuple(colour_errors), tuple(ious), agrees)


def blur_baseline(video: torch.Tensor, factor: int = 4) -> torch.Tensor:
    """Each frame averaged over ``factor x factor`` blocks and upsampled bilinearly (3x9x16x16 numbers per clip,
    a little more than the VAE's 8x3x16x16 latent)."""
    b, c, t, h, w = video.shape
    frames = video.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
    small = F.avg_pool2d(frames, factor)
    up = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
    return up.reshape(b, t, c, h, w).permute(0, 2, 1, 3, 4)


def summarise(figures: list[ClipFigures]) -> dict[str, float]:
    """Means over clips (PSNR) and over objects (colour error, IoU), plus the worst object's figures."""
    colours = [e for f in figures for e in f.colour_errors]
    ious = [i for f in figures for i in f.ious]
    return {
        "psnr_db": float(np.mean([f.psnr for f in figures])),
        "psnr_db_min": float(np.min([f.psnr for f in figures])),
        "colour_error": float(np.mean(colours)),
        "colour_error_max": float(np.max(colours)),
        "object_iou": float(np.mean(ious)),
        "object_iou_min": float(np.min(ious)),
        **{f"evaluator_{name}": float(np.mean([f.evaluator[i] for f in figures])) for i, name in enumerate(ATTRIBUTES)},
        "evaluator_all": float(np.mean([min(f.evaluator) for f in figures])),
    }
