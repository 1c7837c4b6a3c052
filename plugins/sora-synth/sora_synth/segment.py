"""From pixels to blobs: background, foreground, connected components and what each one looks like.

Works on ``(T, H, W, 3)`` float RGB in ``0..255`` and knows nothing of scenes: the background is
the per-frame median of the border pixels, foreground is what differs from it (after a 3x3 mean)
by more than a threshold set from the border's noise, components are 4-connected within a frame. Each
:class:`Blob` carries its observed colour (the median of its most saturated fifth, so blurred
edges mixed with the background do not pull it), the nearest named colour once mixing with the
background is undone, and an alpha map from which shape measures come.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sora_core.video_io import VideoError
from sora_synth.vocabulary import COLOURS

__all__ = ["Blob", "find_blobs", "lab", "name_colour", "to_rgb_frames"]

#: Foreground is at least this far (RGB, 0..255) from the background, whatever the noise.
MIN_THRESHOLD = 40.0
#: ... and this many times the median noise magnitude measured on the border.
NOISE_FACTOR = 4.0
#: Smallest blob kept, as a fraction of the frame's pixels (smaller ones are noise).
MIN_AREA = 0.003
#: -(third cumulant of y) / area^1.5 of an upward triangle as wide as it is high: -2 sqrt(2)/5 * 18^-1.5 * 2^1.5.
TRIANGLE_SKEW = 2 * 2**0.5 / 5 / 18**1.5 * 2**1.5
#: A blob's colour is the median of its pixels this far up the ranking by distance from the background: its
#: most saturated fifth, the interior even of a small blurred object, and still enough pixels to outvote noise.
CORE_PERCENTILE = 80.0
#: Pixels around a blob whose alpha still counts towards its mass (blurred edges).
HALO = 3


def to_rgb_frames(video: object) -> np.ndarray:
    """A video as ``(T, H, W, 3)`` float32 RGB in ``0..255``.

    Takes a tensor or array ``(C=3, T, H, W)`` or ``(1, 3, T, H, W)`` in ``[-1, 1]`` (values outside are
    clamped), or ``uint8`` frames ``(T, H, W, 3)``.
    """
    if hasattr(video, "detach"):
        video = video.detach().float().cpu().numpy()  # type: ignore[attr-defined]
    array = np.asarray(video)
    if array.ndim == 4 and array.shape[-1] == 3 and array.dtype == np.uint8:
        return array.astype(np.float32)
    if array.ndim == 5 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 4 or array.shape[0] != 3:
        raise VideoError(
            f"expected a video (3, T, H, W) or (1, 3, T, H, W) in [-1, 1], or uint8 frames (T, H, W, 3); "
            f"got shape {tuple(array.shape)} of {array.dtype}"
        )
    array = np.nan_to_num(array.astype(np.float32), nan=0.0, posinf=1.0, neginf=-1.0)
    return np.clip((array.transpose(1, 2, 3, 0) + 1.0) * 127.5, 0.0, 255.0)


# --- colour ---------------------------------------------------------------------------------------------------------


def lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB ``0..255`` (any leading shape, last axis 3) -> CIELAB (D65)."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    c = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = c @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


_NAMES = tuple(COLOURS)
_PALETTE = np.array([COLOURS[n] for n in _NAMES], dtype=np.float64)


def name_colour(rgb: np.ndarray, background: np.ndarray) -> tuple[str, float]:
    """The named colour nearest ``rgb`` once mixing with ``background`` is allowed for, and its distance.

    For each named colour ``c`` the best mix ``background + a (c - background)`` (``a`` in
    ``[0.5, 1.1]``) is compared with ``rgb`` in CIELAB: a blurred small object is its colour
    partly mixed with the background, never another colour.
    """
    rgb = np.asarray(rgb, dtype=np.float64)
    background = np.asarray(background, dtype=np.float64)
    direction = _PALETTE - background
    a = np.clip(((rgb - background) @ direction.T) / np.maximum((direction * direction).sum(1), 1e-6), 0.5, 1.1)
    mixes = np.clip(background + a[:, None] * direction, 0, 255)
    distances = np.linalg.norm(lab(mixes) - lab(rgb), axis=1)
    best = int(np.argmin(distances))
    return _NAMES[best], float(distances[best])


# --- components -------------------------------------------------------------------------------------------------------


def _label(mask: np.ndarray) -> np.ndarray:
    """4-connected component labels of a ``(T, H, W)`` mask, per frame: each pixel gets the smallest flat index of
    its component (``mask.size`` on background). Min-propagation with pointer jumping: O(log diameter) rounds."""
    size = mask.size
    flat = np.where(mask.ravel(), np.arange(size), size)
    labels = flat.reshape(mask.shape)
    foreground = mask.ravel()
    extended = np.append(flat, size)  # labels[size] = size, so background pointers stay put
    while True:
        current = labels.copy()
        np.minimum(current[:, 1:], labels[:, :-1], out=current[:, 1:])
        np.minimum(current[:, :-1], labels[:, 1:], out=current[:, :-1])
        np.minimum(current[:, :, 1:], labels[:, :, :-1], out=current[:, :, 1:])
        np.minimum(current[:, :, :-1], labels[:, :, 1:], out=current[:, :, :-1])
        out = current.ravel()
        out[~foreground] = size
        extended[:size] = out
        for _ in range(2):
            extended[:size] = extended[extended[:size]]
        jumped = extended[:size].reshape(mask.shape).copy()  # a copy: ``extended`` is overwritten next round
        if np.array_equal(jumped, labels):
            return jumped
        labels = jumped


@dataclass(frozen=True)
class Blob:
    """One connected foreground region in one frame, measured.

    Positions are in pixels (x right, y down). ``mass`` is the sum of alpha (the blob's colour
    against the background, 0..1 per pixel, edges included), so it is the object's area however
    blurred; ``extent`` is mass over (longest column x longest row) of alpha sums: pi/4 for a
    circle, 1 for a square, 1/2 for a triangle, and little changed by blur or noise; ``skew`` is the
    vertical third cumulant of its alpha over mass^1.5, negated and scaled so an upward triangle
    gives 1 and any shape symmetric top to bottom 0 (blur leaves it unchanged).
    """

    frame: int
    x: float
    y: float
    mass: float
    extent: float
    skew: float
    rgb: tuple[float, float, float]
    colour: str
    colour_distance: float
    touches_border: bool


def find_blobs(frames: np.ndarray) -> tuple[list[list[Blob]], np.ndarray]:
    """Per frame, the blobs of ``frames`` ``(T, H, W, 3)`` RGB 0..255; and the per-frame background ``(T, 3)``."""
    count, height, width, _ = frames.shape
    # foreground is found on a 3x3 mean: a third of the noise, at the cost of one pixel of blur
    smooth = _box3(frames)
    border = np.concatenate([smooth[:, 0], smooth[:, -1], smooth[:, 1:-1, 0], smooth[:, 1:-1, -1]], axis=1)
    background = np.median(border, axis=1)  # (T, 3)
    noise = float(np.median(np.linalg.norm(border - background[:, None], axis=-1)))
    threshold = max(MIN_THRESHOLD, NOISE_FACTOR * noise)
    difference = frames - background[:, None, None, :]
    offset = smooth - background[:, None, None, :]
    distance = np.sqrt((offset * offset).sum(-1))
    mask = distance > threshold
    labels = _label(mask)
    min_area = max(4, int(MIN_AREA * height * width))
    found, counts = np.unique(labels[mask], return_counts=True)
    kept = found[counts >= min_area]
    blobs: list[list[Blob]] = [[] for _ in range(count)]
    for label in kept:
        frame = int(label // (height * width))
        region = labels[frame] == label
        blob = _measure(frame, region, frames[frame], difference[frame], distance[frame], background[frame])
        if blob is not None:
            blobs[frame].append(blob)
    return blobs, background


def _peak(profile: np.ndarray) -> float:
    """The largest value of a profile, as the mean of its top three: the single largest of noisy sums is biased."""
    return float(np.sort(profile)[-3:].mean())


def _box3(frames: np.ndarray) -> np.ndarray:
    """The 3x3 mean of each frame of ``(T, H, W, 3)``, edges replicated."""
    padded = np.pad(frames, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    height, width = frames.shape[1:3]
    rows = padded[:, :-2] + padded[:, 1:-1] + padded[:, 2:]
    return (rows[:, :, :-2] + rows[:, :, 1:-1] + rows[:, :, 2:])[:, :height, :width] / 9.0


def _measure(
    frame: int,
    region: np.ndarray,
    image: np.ndarray,
    difference: np.ndarray,
    distance: np.ndarray,
    background: np.ndarray,
) -> Blob | None:
    height, width = region.shape
    ys, xs = np.nonzero(region)
    top, bottom = max(0, ys.min() - HALO), min(height, ys.max() + HALO + 1)
    left, right = max(0, xs.min() - HALO), min(width, xs.max() + HALO + 1)
    inside = region[top:bottom, left:right]
    strength = distance[top:bottom, left:right]
    core = inside & (strength >= np.percentile(strength[inside], CORE_PERCENTILE))
    rgb = np.median(image[top:bottom, left:right][core], axis=0)
    direction = rgb - background
    norm = float(direction @ direction)
    if norm < 1e-6:
        return None
    alpha = (difference[top:bottom, left:right] @ direction) / norm
    # the halo: pixels within HALO of the region (a box dilation), so blurred edges count, other blobs do not
    near = _dilate(inside, HALO)
    alpha = np.where(near, alpha, 0.0)
    mass = float(np.clip(alpha, -0.25, 1.25).sum())
    if mass <= 1.0:
        return None
    weights = np.clip(alpha, -0.25, 1.25)
    gy, gx = np.mgrid[top:bottom, left:right]
    cx = float((weights * (gx + 0.5)).sum() / mass)
    cy = float((weights * (gy + 0.5)).sum() / mass)
    # the third cumulant is unchanged by a Gaussian blur, and the mass is the area: their ratio is blur-proof
    third = float((weights * (gy + 0.5 - cy) ** 3).sum() / mass)
    skew = -third / mass**1.5 / TRIANGLE_SKEW
    name, error = name_colour(rgb, background)
    return Blob(
        frame=frame,
        x=cx,
        y=cy,
        mass=mass,
        extent=mass / max(_peak(weights.sum(axis=0)) * _peak(weights.sum(axis=1)), 1e-6),
        skew=skew,
        rgb=(float(rgb[0]), float(rgb[1]), float(rgb[2])),
        colour=name,
        colour_distance=error,
        touches_border=bool(ys.min() == 0 or xs.min() == 0 or ys.max() == height - 1 or xs.max() == width - 1),
    )


def _dilate(mask: np.ndarray, steps: int) -> np.ndarray:
    out = mask.copy()
    for _ in range(steps):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        out = grown
    return out
