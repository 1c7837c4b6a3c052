"""Clips made to look like a generator's: what the captioner must still read in ``t2v``'s own videos.

Videos decoded from sampled latents differ from clean renders in ways a detector trained on renders has
never seen. Their objects are often larger than the renders' largest, or travel less far
(:func:`reshape_scene`, applied to the scene before rendering); their edges wobble from frame to frame,
shapes come out soft or ragged, frames ghost into each other, colours cast, grain shows, and faint smudges
appear where no object is (:func:`roughen`, on the rendered clip: a random mix, each part with probability
``p`` and a random strength, deterministic for ``rng``). First-frame centres and words stay as they were, to
within two or three pixels (under a latent cell), so the clean scene's labels still hold.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from sora_synth.degrade import add_noise, blur, colour_shift, downsample, temporal_blur
from sora_synth.scene import Scene, render_tensor

__all__ = ["render_rough", "reshape_scene", "roughen", "smudge", "wobble"]

#: Largest displacement of :func:`wobble`, in pixels.
MAX_WOBBLE = 2.5
#: Range of the factor on each object's radius, by size word (a generator's objects often come out larger).
RADIUS_SCALE = {"large": (0.85, 1.6), "small": (0.85, 1.3), None: (0.9, 1.2)}
#: Range of the factor on a moving object's travel (a generator's objects often move less far).
TRAVEL_SCALE = (0.6, 1.0)


def reshape_scene(scene: Scene, rng: np.random.Generator) -> Scene:
    """``scene`` with each object's radius and travel scaled by a random factor, its first-frame centre and
    every word kept: objects as a generator draws them, sometimes larger or slower than the renders', and
    then free to touch each other or the frame's edge."""
    objects = []
    for obj in scene.objects:
        radius = rng.uniform(*RADIUS_SCALE[obj.size])
        travel = rng.uniform(*TRAVEL_SCALE)
        start = obj.keyframes[0]
        keyframes = tuple(
            replace(
                k,
                x=start.x + (k.x - start.x) * travel,
                y=start.y + (k.y - start.y) * travel,
                radius=k.radius * radius,
            )
            for k in obj.keyframes
        )
        objects.append(replace(obj, keyframes=keyframes))
    return replace(scene, objects=tuple(objects))


def wobble(video: Tensor, rng: np.random.Generator, amplitude: float) -> Tensor:
    """Warp every frame of ``video`` ``(3, T, H, W)`` by a smooth random field of up to ``amplitude`` pixels,
    part shared by the clip and part drawn per frame: ragged edges that move between frames."""
    _, frames, height, width = video.shape
    shared = rng.standard_normal((1, 2, 4, 4))
    own = rng.standard_normal((frames, 2, 4, 4))
    coarse = torch.from_numpy(0.6 * shared + 0.8 * own).float()
    field = F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=False)
    field = field / field.abs().amax().clamp(min=1e-6) * amplitude
    rows, columns = torch.meshgrid(torch.arange(height).float(), torch.arange(width).float(), indexing="ij")
    x = (columns + field[:, 0] + 0.5) / width * 2 - 1
    y = (rows + field[:, 1] + 0.5) / height * 2 - 1
    grid = torch.stack([x, y], dim=-1)
    warped = F.grid_sample(video.transpose(0, 1), grid, mode="bilinear", padding_mode="border", align_corners=False)
    return warped.transpose(0, 1).contiguous()


def smudge(video: Tensor, rng: np.random.Generator) -> Tensor:
    """Blend a faint, soft blob of a random colour into a random span of frames: a smudge that is no object."""
    _, frames, height, width = video.shape
    radius = rng.uniform(0.04, 0.09) * min(height, width)
    cy, cx = rng.uniform(0.1, 0.9) * height, rng.uniform(0.1, 0.9) * width
    rows, columns = torch.meshgrid(torch.arange(height).float(), torch.arange(width).float(), indexing="ij")
    mask = torch.exp(-((rows - cy) ** 2 + (columns - cx) ** 2) / (2 * radius**2)) * rng.uniform(0.15, 0.45)
    first = int(rng.integers(frames))
    last = int(rng.integers(first, frames)) + 1
    colour = torch.from_numpy(rng.uniform(-1, 1, 3)).float()[:, None, None, None]
    out = video.clone()
    out[:, first:last] = out[:, first:last] * (1 - mask) + colour * mask
    return out


def roughen(video: Tensor, rng: np.random.Generator, p: float = 0.5) -> Tensor:
    """``video`` ``(3, T, H, W)`` in [-1, 1] with a random mix of a generator's artefacts, each part drawn with
    probability ``p``."""
    seed = int(rng.integers(2**31))
    if rng.random() < p:
        video = wobble(video, rng, rng.uniform(0.5, MAX_WOBBLE))
    if rng.random() < p:
        video = smudge(video, rng)
    if rng.random() < p:
        video = temporal_blur(video, rng.uniform(0.08, 0.25))
    if rng.random() < p:
        video = downsample(video, 2) if rng.random() < 0.5 else blur(video, rng.uniform(0.4, 1.0))
    if rng.random() < p:
        video = colour_shift(video, gain=0.12, offset=0.06, seed=seed)
    if rng.random() < p:
        video = add_noise(video, rng.uniform(0.01, 0.05), seed=seed + 1)
    return video.float().clamp(-1, 1)


def render_rough(
    scene: Scene, rng: np.random.Generator, p: float = 0.5, frames: int = 9, height: int = 64, width: int = 64
) -> Tensor:
    """``scene`` reshaped, rendered and roughened: a clip ``(3, T, H, W)`` as a generator might draw it, with
    the words and first-frame centres of ``scene``."""
    return roughen(render_tensor(reshape_scene(scene, rng), frames, height, width), rng, p)
