"""Reading and writing videos: MP4 (H.264 through the ffmpeg that imageio-ffmpeg ships), GIF, PNG frames.

Tensors follow the project's layout: a video is ``(C, T, H, W)`` (or ``(B, C, T, H, W)``)
float in ``[-1, 1]``. Frames on disk are ``(T, H, W, 3)`` ``uint8``. Every write goes to a
temporary file beside the target and is renamed into place, so a failed or interrupted
write never leaves half a video.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sora_core.atomic import atomic_path
from sora_core.errors import SoraError

if TYPE_CHECKING:
    import torch

__all__ = [
    "VideoError",
    "contact_sheet",
    "read_video",
    "to_frames",
    "to_video",
    "write_contact_sheet",
    "write_video",
]

VIDEO_SUFFIXES = (".mp4", ".gif")
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class VideoError(SoraError):
    """A video could not be read or written; the message names the file."""


def to_frames(video: torch.Tensor | np.ndarray, *, scale: int = 1) -> np.ndarray:
    """``(C, T, H, W)`` (or a batch of one) in ``[-1, 1]`` -> ``(T, H*scale, W*scale, 3)`` ``uint8``.

    One channel is repeated to RGB; ``scale`` enlarges each pixel into a ``scale`` x ``scale`` block.
    """
    array = video.detach().float().cpu().numpy() if hasattr(video, "detach") else np.asarray(video, dtype=np.float32)
    if array.ndim == 5:
        if array.shape[0] != 1:
            raise VideoError(f"expected one video, got a batch of {array.shape[0]}", "write each batch item on its own")
        array = array[0]
    if array.ndim != 4 or array.shape[0] not in (1, 3):
        raise VideoError(f"expected a video of shape (C, T, H, W) with C = 1 or 3, got {tuple(array.shape)}")
    if array.shape[0] == 1:
        array = np.repeat(array, 3, axis=0)
    frames = np.clip((np.nan_to_num(array) + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 3, 0)
    if scale > 1:
        frames = frames.repeat(scale, axis=1).repeat(scale, axis=2)
    return np.ascontiguousarray(frames)


def to_video(frames: np.ndarray) -> torch.Tensor:
    """``(T, H, W, 3)`` ``uint8`` -> ``(3, T, H, W)`` float32 in ``[-1, 1]`` (the inverse of :func:`to_frames`)."""
    import torch

    array = np.asarray(frames)
    if array.ndim != 4 or array.shape[-1] != 3:
        raise VideoError(f"expected frames of shape (T, H, W, 3), got {tuple(array.shape)}")
    return torch.from_numpy(array.astype(np.float32) / 127.5 - 1.0).permute(3, 0, 1, 2).contiguous()


def write_video(frames: np.ndarray, path: str | os.PathLike[str], *, fps: float = 8.0) -> Path:
    """Write ``(T, H, W, 3)`` ``uint8`` frames as ``.mp4`` (H.264, yuv420p) or ``.gif``, atomically."""
    target = Path(path)
    suffix = target.suffix.lower()
    frames = _checked_frames(frames, target)
    if suffix not in VIDEO_SUFFIXES:
        raise VideoError(f"cannot write {target}: unknown video format {suffix!r}", "use a .mp4 or .gif file name")
    if not target.parent.is_dir():
        raise VideoError(f"cannot write {target}: directory {target.parent} does not exist", "create it first")
    with atomic_path(target, suffix=suffix) as temporary:
        if suffix == ".mp4":
            _write_mp4(frames, temporary, fps)
        else:
            _write_gif(frames, temporary, fps)
    return target


def _checked_frames(frames: np.ndarray, target: Path) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or frames.shape[0] < 1:
        raise VideoError(
            f"cannot write {target}: frames must be uint8 (T, H, W, 3) with T >= 1, got {frames.dtype} "
            f"{tuple(frames.shape)}",
            "convert a tensor with sora_core.video_io.to_frames",
        )
    return np.ascontiguousarray(frames)


def _write_mp4(frames: np.ndarray, path: Path, fps: float) -> None:
    import imageio_ffmpeg

    _, height, width, _ = frames.shape
    if height % 2 or width % 2:
        frames = np.pad(frames, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)), mode="edge")  # yuv420p: even
        height, width = frames.shape[1:3]
    writer = imageio_ffmpeg.write_frames(
        str(path),
        (width, height),
        fps=fps,
        codec="libx264",
        pix_fmt_out="yuv420p",
        macro_block_size=1,
        quality=None,
        output_params=["-crf", "16", "-preset", "medium", "-movflags", "+faststart"],
        ffmpeg_log_level="error",
    )
    try:
        writer.send(None)
        for frame in frames:
            writer.send(frame.tobytes())
    except (OSError, RuntimeError) as exc:
        raise VideoError(f"ffmpeg could not encode {path.name}: {exc}", "check free disk space") from None
    finally:
        writer.close()


def _write_gif(frames: np.ndarray, path: Path, fps: float) -> None:
    from PIL import Image

    frames = frames.copy()
    for t in range(1, len(frames)):
        # Pillow merges identical consecutive GIF frames into one (durations summed), so a clip that holds
        # still would come back shorter; flipping the lowest bit of one corner value keeps every frame.
        if np.array_equal(frames[t], frames[t - 1]):
            frames[t, 0, 0, 0] ^= 1
    images = [Image.fromarray(frame) for frame in frames]
    duration = max(20, round(1000 / fps))
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:], duration=duration, loop=0)


def contact_sheet(frames: np.ndarray, *, columns: int | None = None, gap: int = 2) -> np.ndarray:
    """All frames tiled into one ``uint8`` image, ``columns`` per row (default: close to square), white gaps."""
    frames = np.asarray(frames)
    count, height, width, _ = frames.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    sheet = np.full((rows * height + (rows - 1) * gap, columns * width + (columns - 1) * gap, 3), 255, np.uint8)
    for index, frame in enumerate(frames):
        row, column = divmod(index, columns)
        top, left = row * (height + gap), column * (width + gap)
        sheet[top : top + height, left : left + width] = frame
    return sheet


def write_contact_sheet(frames: np.ndarray, path: str | os.PathLike[str], *, columns: int | None = None) -> Path:
    """Write :func:`contact_sheet` of ``frames`` as a PNG, atomically."""
    from PIL import Image

    target = Path(path)
    frames = _checked_frames(frames, target)
    if target.suffix.lower() != ".png":
        raise VideoError(f"cannot write {target}: a contact sheet is a .png", "use a .png file name")
    with atomic_path(target, suffix=".png") as temporary:
        Image.fromarray(contact_sheet(frames, columns=columns)).save(temporary, format="PNG")
    return target


def read_video(path: str | os.PathLike[str]) -> np.ndarray:
    """``(T, H, W, 3)`` ``uint8`` frames from an ``.mp4``, a ``.gif``, or a folder of ``.png``/``.jpg`` frames.

    A folder's frames are read in natural name order (``frame2`` before ``frame10``).
    """
    source = Path(path)
    if not source.exists():
        raise VideoError(f"{source} does not exist", "pass an .mp4, a .gif or a folder of .png frames")
    try:
        if source.is_dir():
            return _read_folder(source)
        suffix = source.suffix.lower()
        if suffix == ".mp4":
            return _read_mp4(source)
        if suffix == ".gif":
            return _read_images([source], animated=True)
        if suffix in _IMAGE_SUFFIXES:
            return _read_images([source], animated=False)
    except VideoError:
        raise
    except Exception as exc:  # decoders raise many types; the user needs the file and the reason
        raise VideoError(f"{source} is not a readable video: {_short_reason(exc)}", "re-export it") from None
    raise VideoError(f"{source}: unknown video format {source.suffix!r}", "use .mp4, .gif or a folder of .png frames")


def _short_reason(exc: Exception) -> str:
    """The decoder's reason in one line: ffmpeg errors carry its whole banner and log, of which one line matters."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reason = f"{type(exc).__name__}: {lines[0] if lines else 'no reason given'}"
    details = [line for line in lines[1:] if re.search(r"error|invalid", line, re.IGNORECASE)]
    return f"{reason} ({details[-1]})" if details else reason


def _read_mp4(path: Path) -> np.ndarray:
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    meta: dict[str, Any] = next(reader)
    width, height = meta["size"]
    frames = [np.frombuffer(frame, np.uint8).reshape(height, width, 3) for frame in reader]
    if not frames:
        raise VideoError(f"{path} holds no frames", "re-export it")
    return np.stack(frames)


def _read_folder(folder: Path) -> np.ndarray:
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES), key=_natural)
    if not files:
        raise VideoError(f"{folder} holds no .png or .jpg frames", "put one image per frame in the folder")
    return _read_images(files, animated=False)


def _read_images(files: list[Path], *, animated: bool) -> np.ndarray:
    from PIL import Image, ImageSequence

    frames = []
    for file in files:
        with Image.open(file) as image:
            for frame in ImageSequence.Iterator(image) if animated else [image]:
                frames.append(np.asarray(frame.convert("RGB")))
    sizes = {frame.shape for frame in frames}
    if len(sizes) > 1:
        raise VideoError(f"frames of {files[0].parent} differ in size: {sorted(sizes)}", "give every frame one size")
    return np.stack(frames)


def _natural(path: Path) -> list[Any]:
    import re

    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]
