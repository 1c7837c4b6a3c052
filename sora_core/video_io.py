"""Reading and writing videos: MP4 (H.264 through the ffmpeg that imageio-ffmpeg ships), GIF, PNG frames.

Tensors follow the project's layout: a video is ``(C, T, H, W)`` (or ``(B, C, T, H, W)``)
float in ``[-1, 1]``. Frames on disk are ``(T, H, W, 3)`` ``uint8``. Every write goes to a
temporary file beside the target and is renamed into place, so a failed or interrupted
write never leaves half a video.

Limits: a video is read only when the ``frames x width x height`` its metadata declares is within
:func:`max_video_pixels` (``SORA_MAX_VIDEO_PIXELS``, default 2**22), checked before a frame is decoded; a video
or contact sheet is written (or enlarged with ``scale``) only when its pixels are within :func:`max_output_pixels`
(``SORA_MAX_OUTPUT_PIXELS``, default 2**26) and no side exceeds :func:`max_image_side` (``SORA_MAX_IMAGE_SIDE``,
default 16384); ``fps`` is a finite number in [0.1, 1000].
A file that decodes with errors or with fewer frames than it declares is refused as truncated or corrupt.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sora_core.atomic import atomic_path
from sora_core.errors import ConfigError, SoraError

if TYPE_CHECKING:
    import torch

__all__ = [
    "DEFAULT_MAX_IMAGE_SIDE",
    "DEFAULT_MAX_OUTPUT_PIXELS",
    "DEFAULT_MAX_VIDEO_PIXELS",
    "MAX_FPS",
    "MIN_FPS",
    "VideoError",
    "VideoTooLargeError",
    "check_fps",
    "check_scale",
    "check_video_size",
    "contact_sheet",
    "largest_scale",
    "max_image_side",
    "max_output_pixels",
    "max_video_pixels",
    "read_video",
    "to_frames",
    "to_video",
    "write_contact_sheet",
    "write_video",
]

VIDEO_SUFFIXES = (".mp4", ".gif")
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


#: Pixels (frames x width x height) a video file may hold to be read: 2**22 = 4,194,304, 60 times the 64x64 x 17
#: clips the pipelines make and read (e.g. 64 frames of 256x256, 16 of 512x512). The clips read feed pipelines
#: whose video encoder needs about 0.8 kB a pixel on CPU (a 512x512 x 17 caption peaks at 3.8 GB), so a clip at
#: the limit costs about 3.5 GB; decoding itself costs 15 bytes a pixel (uint8 frames, then float32).
DEFAULT_MAX_VIDEO_PIXELS = 2**22
#: Pixels (frames x width x height) a written video or contact sheet may hold: 2**26 = 67,108,864 (200 MB as uint8
#: frames), e.g. 17 frames of 64x64 enlarged up to --scale 31 (1984x1984).
DEFAULT_MAX_OUTPUT_PIXELS = 2**26
#: The longest side of any frame or contact sheet written (PNG, GIF and H.264 decoders commonly stop there).
DEFAULT_MAX_IMAGE_SIDE = 16384
#: Frames per second a written video may have: slower than one frame in 10 s or faster than 1000 fps is a mistake.
MIN_FPS, MAX_FPS = 0.1, 1000.0
#: The gap, in pixels, between the frames of a contact sheet.
SHEET_GAP = 2


class VideoError(SoraError):
    """A video could not be read or written; the message names the file."""


class VideoTooLargeError(VideoError):
    """A video to read, or a video or image to write, exceeds a pixel budget; the message names the file or flag."""


def max_video_pixels(override: int | None = None) -> int:
    """The reading budget: ``override``, else ``$SORA_MAX_VIDEO_PIXELS``, else :data:`DEFAULT_MAX_VIDEO_PIXELS`."""
    return _limit("SORA_MAX_VIDEO_PIXELS", DEFAULT_MAX_VIDEO_PIXELS, override, "max_pixels")


def max_output_pixels() -> int:
    """The writing budget: ``$SORA_MAX_OUTPUT_PIXELS``, else :data:`DEFAULT_MAX_OUTPUT_PIXELS`."""
    return _limit("SORA_MAX_OUTPUT_PIXELS", DEFAULT_MAX_OUTPUT_PIXELS, None, "")


def max_image_side(override: int | None = None) -> int:
    """The longest side written: ``override``, else ``$SORA_MAX_IMAGE_SIDE``, else :data:`DEFAULT_MAX_IMAGE_SIDE`."""
    return _limit("SORA_MAX_IMAGE_SIDE", DEFAULT_MAX_IMAGE_SIDE, override, "max_side")


def _limit(variable: str, default: int, override: int | None, argument: str) -> int:
    if override is not None:
        if isinstance(override, bool) or not isinstance(override, int) or override < 1:
            raise ConfigError(f"{argument}={override!r} must be a positive whole number", f"e.g. {argument}={default}")
        return override
    text = os.environ.get(variable, "").strip()
    if not text:
        return default
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"${variable}={text!r} is not a positive whole number", f"unset it or use e.g. {default}")
    return value


def check_fps(fps: float, *, flag: str = "fps") -> float:
    """``fps`` as a float when within [:data:`MIN_FPS`, :data:`MAX_FPS`]; a ``ConfigError`` naming ``flag`` if not."""
    try:
        value = float(fps)
    except (TypeError, ValueError):
        value = math.nan
    if not (MIN_FPS <= value <= MAX_FPS):  # also refuses nan
        shown = f"{value:g}" if isinstance(fps, int | float) else repr(fps)
        raise ConfigError(
            f"{flag} {shown} is out of range: frames per second must be a number from {MIN_FPS:g} to {MAX_FPS:g}",
            f"use e.g. {flag} 8",
        )
    return value


def largest_scale(count: int, height: int, width: int, *, columns: int | None = None) -> int:
    """The largest pixel scale at which ``count`` frames of ``height`` x ``width`` fit the limits (0: none does).

    With ``columns``, the frames must also fit one contact sheet of that many columns.
    """
    low, high = 0, max_image_side() // max(height, width, 1)
    while low < high:  # fits() only turns false as the scale grows: bisect for the last true
        middle = (low + high + 1) // 2
        if _fits(count, height * middle, width * middle, columns):
            low = middle
        else:
            high = middle - 1
    return low


def _fits(count: int, height: int, width: int, columns: int | None) -> bool:
    side = max_image_side()
    if max(height, width) > side or count * height * width > max_output_pixels():
        return False
    if columns is None:
        return True
    rows = math.ceil(count / columns)
    return rows * height + (rows - 1) * SHEET_GAP <= side and columns * width + (columns - 1) * SHEET_GAP <= side


def check_video_size(count: int, height: int, width: int, *, what: str = "the video") -> None:
    """Refuse (``VideoTooLargeError``, naming ``what``) ``count`` frames of ``height`` x ``width`` beyond the limits."""
    if min(count, height, width) >= 1 and _fits(count, height, width, None):
        return
    raise VideoTooLargeError(
        f"{what}: {count} frames of {width}x{height} = {count * height * width:,} pixels, over the limits of "
        f"{max_image_side():,} pixels a side and {max_output_pixels():,} pixels in all (frames x width x height)",
        "ask for fewer or smaller frames, or raise SORA_MAX_IMAGE_SIDE / SORA_MAX_OUTPUT_PIXELS",
    )


def check_scale(
    scale: int, count: int, height: int, width: int, *, flag: str = "scale", columns: int | None = None
) -> None:
    """Refuse a ``scale`` below 1 (``ConfigError``) or one whose frames break a limit (``VideoTooLargeError``)."""
    largest = largest_scale(count, height, width, columns=columns)
    valid = f"valid: 1 to {largest}" if largest else "no scale fits"
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ConfigError(f"{flag} {scale!r} must be at least 1 ({valid})", f"use {flag} 4 to enlarge 64x64 frames")
    if scale > largest:
        what = f"a contact sheet of {count} frames" if columns else f"{count} frames"
        raise VideoTooLargeError(
            f"{flag} {scale} would make {what} of {width * scale}x{height * scale}, over the limits of "
            f"{max_image_side():,} pixels a side and {max_output_pixels():,} pixels in all "
            f"({valid} for {width}x{height} frames)",
            f"use a smaller {flag}, or raise SORA_MAX_IMAGE_SIDE / SORA_MAX_OUTPUT_PIXELS",
        )


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
    if scale != 1:
        check_scale(scale, *array.shape[1:])
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
    # One float copy, converted in place: no float (T, H, W, 3) intermediate beside the (3, T, H, W) result.
    video = torch.empty((3, *array.shape[:3]), dtype=torch.float32)
    video.copy_(torch.from_numpy(np.ascontiguousarray(array)).permute(3, 0, 1, 2))
    return video.div_(127.5).sub_(1.0)


def write_video(frames: np.ndarray, path: str | os.PathLike[str], *, fps: float = 8.0) -> Path:
    """Write ``(T, H, W, 3)`` ``uint8`` frames as ``.mp4`` (H.264, yuv420p) or ``.gif``, atomically."""
    target = Path(path)
    suffix = target.suffix.lower()
    fps = check_fps(fps)
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
    if columns < 1 or gap < 0:
        raise VideoError(f"a contact sheet needs columns >= 1 and gap >= 0, got {columns} and {gap}")
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
    count, height, width, _ = frames.shape
    if not _fits(count, height, width, columns or math.ceil(math.sqrt(count))):
        raise VideoTooLargeError(
            f"cannot write {target}: a contact sheet of {count} frames of {width}x{height} exceeds "
            f"{max_image_side():,} pixels a side or {max_output_pixels():,} pixels in all",
            "write fewer or smaller frames, or raise SORA_MAX_IMAGE_SIDE / SORA_MAX_OUTPUT_PIXELS",
        )
    with atomic_path(target, suffix=".png") as temporary:
        Image.fromarray(contact_sheet(frames, columns=columns)).save(temporary, format="PNG")
    return target


def read_video(path: str | os.PathLike[str], *, max_pixels: int | None = None) -> np.ndarray:
    """``(T, H, W, 3)`` ``uint8`` frames from an ``.mp4``, a ``.gif``, or a folder of ``.png``/``.jpg`` frames.

    A folder's frames are read in natural name order (``frame2`` before ``frame10``). The file's metadata is
    read first: when its ``frames x width x height`` exceeds ``max_pixels`` (default :func:`max_video_pixels`)
    it is refused with :class:`VideoTooLargeError` before a frame is decoded. A file that decodes with errors,
    or with fewer frames than it declares, is refused as truncated or corrupt.
    """
    from sora_core import video_decode

    source = Path(path)
    budget = max_video_pixels(max_pixels)
    if not source.exists():
        raise VideoError(f"{source} does not exist", "pass an .mp4, a .gif or a folder of .png frames")
    if not (source.is_dir() or source.is_file()):  # a device or a pipe could be read for ever
        raise VideoError(f"{source} is not a regular file or folder", "pass an .mp4, a .gif or a folder of .png frames")
    try:
        if source.is_dir():
            return video_decode.read_images(_frame_files(source), budget)
        suffix = source.suffix.lower()
        if suffix == ".mp4":
            return video_decode.read_mp4(source, budget)
        if suffix == ".gif":
            return video_decode.read_gif(source, budget)
        if suffix in _IMAGE_SUFFIXES:
            return video_decode.read_images([source], budget)
    except VideoError:
        raise
    except MemoryError:
        raise VideoTooLargeError(
            f"{source} does not fit in memory", "shrink it, or lower SORA_MAX_VIDEO_PIXELS to refuse such files early"
        ) from None
    except Exception as exc:  # decoders raise many types; the user needs the file and the reason
        raise VideoError(f"{source} is not a readable video: {_short_reason(exc)}", "re-export it") from None
    raise VideoError(f"{source}: unknown video format {source.suffix!r}", "use .mp4, .gif or a folder of .png frames")


def _short_reason(exc: Exception) -> str:
    """The decoder's reason in one line: ffmpeg errors carry its whole banner and log, of which one line matters."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reason = f"{type(exc).__name__}: {lines[0] if lines else 'no reason given'}"
    details = [line for line in lines[1:] if re.search(r"error|invalid", line, re.IGNORECASE)]
    return f"{reason} ({details[-1]})" if details else reason


def _frame_files(folder: Path) -> list[Path]:
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES and p.is_file()), key=_natural)
    if not files:
        raise VideoError(f"{folder} holds no .png or .jpg frames", "put one image per frame in the folder")
    return files


def _natural(path: Path) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]
