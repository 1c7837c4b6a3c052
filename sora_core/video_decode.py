"""Decoding video files under a pixel budget: the container's metadata is read first, frames only after.

Every reader probes its file without decoding a frame (ffmpeg's stream header for an MP4, Pillow's logical
screen size and frame count for a GIF, each image's header for a folder of frames), refuses the file with a
:class:`~sora_core.video_io.VideoTooLargeError` when ``frames x width x height`` exceeds the budget, and only
then decodes, into one preallocated array, stopping as soon as the budget is spent even when the metadata
lied. A file that decodes with errors, or with fewer frames than it declares, is refused as truncated or
corrupt (a :class:`~sora_core.video_io.VideoError` naming the file): a damaged clip is never read as if whole.
"""

from __future__ import annotations

import math
import re
import struct
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from sora_core.video_io import VideoError, VideoTooLargeError

#: ffmpeg reads an ``.mp4`` as MP4/QuickTime only and from local files only: a playlist or another format
#: renamed ``.mp4`` can make no network request and read no other file.
_MP4_INPUT = ["-f", "mov", "-protocol_whitelist", "file", "-enable_drefs", "0"]
#: How much of ffmpeg's error log is kept (a corrupt file can log one line per packet).
_LOG_BYTES = 64 * 1024
#: Lines of ffmpeg's header log that explain why a file has no readable stream.
_PROBLEM = re.compile(r"error|invalid|not found|partial|truncat|corrupt|unsupported|no such", re.IGNORECASE)
#: What Pillow raises for a damaged file (a truncated GIF's frame count can raise IndexError).
_PILLOW_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error)
_REENCODE_HINT = "re-export it, or re-encode what is readable: ffmpeg -i {name} -c:v libx264 -pix_fmt yuv420p fixed.mp4"


@dataclass(frozen=True)
class VideoInfo:
    """What a file's metadata declares: frame size, and frame count when the container states it."""

    width: int
    height: int
    frames: int | None


def check_budget(path: Path, info: VideoInfo, budget: int) -> int:
    """Refuse ``path`` when its declared pixels exceed ``budget``; return how many frames of its size fit it."""
    per_frame = info.width * info.height
    if per_frame <= 0:
        raise VideoError(f"{path} declares frames of {info.width}x{info.height} pixels", "re-export it")
    total = per_frame * (info.frames or 1)
    if total > budget:
        count = f"{info.frames} frames" if info.frames else "frames"
        raise VideoTooLargeError(
            f"{path} holds {count} of {info.width}x{info.height} = {total:,} pixels, over the limit of {budget:,} "
            "pixels (frames x width x height), checked before decoding",
            "shrink or trim it first (e.g. ffmpeg -i IN -vf scale=256:-2 -frames:v 64 OUT.mp4), "
            "or raise the limit with SORA_MAX_VIDEO_PIXELS",
        )
    return budget // per_frame


def _over_budget_while_decoding(path: Path, info: VideoInfo, budget: int) -> VideoTooLargeError:
    return VideoTooLargeError(
        f"{path} holds more than {budget // (info.width * info.height)} frames of {info.width}x{info.height} "
        f"(more than its metadata declares), over the limit of {budget:,} pixels; decoding stopped there",
        "shrink or trim it first, or raise the limit with SORA_MAX_VIDEO_PIXELS",
    )


# --- MP4 -------------------------------------------------------------------------------


def probe_mp4(path: Path) -> VideoInfo:
    """The first video stream's size (after rotation) and declared frame count, from ffmpeg's header: no decoding."""
    import imageio_ffmpeg

    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", *_MP4_INPUT, "-i", str(path)]
    result = subprocess.run(command, capture_output=True, stdin=subprocess.DEVNULL, check=False)
    return parse_header(path, result.stderr[:_LOG_BYTES].decode("utf-8", "replace"))


def parse_header(path: Path, text: str) -> VideoInfo:
    """A :class:`VideoInfo` from the stream header ``ffmpeg -i`` prints (``text``); a clear error without a video."""
    stream = re.search(r"Stream #\d+:\d+.*?: Video: (.*)", text)
    if stream is None:
        problems = [line for line in text.splitlines() if _PROBLEM.search(line)]
        reason = _ffmpeg_reason(problems) or "it holds no video stream (is it truncated?)"
        raise VideoError(f"{path} is not a readable video: {reason}", "pass an H.264 .mp4, a .gif or PNG frames")
    size = re.search(r"(?:^|,\s)(\d{1,9})x(\d{1,9})(?=[\s,\[]|$)", stream.group(1))
    if size is None:
        raise VideoError(f"{path} declares no frame size for its video stream", "re-export it")
    width, height = int(size.group(1)), int(size.group(2))
    rotation = re.search(r"rotation of (-?[\d.]+) degrees", text[stream.end() :])
    if rotation and round(abs(float(rotation.group(1)))) % 180 == 90:
        width, height = height, width  # ffmpeg turns the frames upright while decoding
    return VideoInfo(width, height, _declared_frames(text, stream.group(1)))


def _declared_frames(text: str, stream: str) -> int | None:
    duration = re.search(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", text)
    fps = re.search(r"([\d.]+)(k?) fps", stream)
    if duration is None or fps is None:
        return None
    try:
        seconds = int(duration.group(1)) * 3600 + int(duration.group(2)) * 60 + float(duration.group(3))
        rate = float(fps.group(1)) * (1000 if fps.group(2) else 1)
    except ValueError:
        return None
    frames = seconds * rate
    return max(1, round(frames)) if math.isfinite(frames) and frames < 2**62 else None


def read_mp4(path: Path, budget: int) -> np.ndarray:
    """Decode ``path`` after its metadata passed the budget, at most as many frames as the budget allows."""
    info = probe_mp4(path)
    max_frames = check_budget(path, info, budget)
    frames, log, complete = _decode_mp4(path, info, max_frames)
    if len(frames) > max_frames:
        raise _over_budget_while_decoding(path, info, budget)
    _check_complete(path, info, len(frames), log if complete else ["the decoder stopped mid-frame"])
    return frames


def _decode_mp4(path: Path, info: VideoInfo, max_frames: int) -> tuple[np.ndarray, list[str], bool]:
    """Up to ``max_frames + 1`` frames (one more tells a file that outgrows its metadata), ffmpeg's error log."""
    import imageio_ffmpeg

    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", *_MP4_INPUT]
    command += ["-i", str(path), "-map", "0:v:0", "-frames:v", str(max_frames + 1)]
    command += ["-vf", f"scale={info.width}:{info.height}", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
        try:
            assert process.stdout is not None
            frames, complete = _read_raw(process.stdout, info, max_frames + 1)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
            if process.stdout is not None:
                process.stdout.close()
        log.seek(0)
        lines = log.read(_LOG_BYTES).decode("utf-8", "replace").splitlines()
    if process.returncode not in (0, None) and not lines:
        lines = [f"ffmpeg exited with status {process.returncode}"]
    return frames, lines, complete


def _read_raw(stream: IO[bytes], info: VideoInfo, limit: int) -> tuple[np.ndarray, bool]:
    """Raw RGB frames from ``stream`` into one growing array, at most ``limit``; whether the last frame was whole."""
    buffer = np.empty((min(limit, info.frames or 8), info.height, info.width, 3), np.uint8)
    count = 0
    while count < limit:
        if count == len(buffer):
            grown = np.empty((min(limit, 2 * count), *buffer.shape[1:]), np.uint8)
            grown[:count] = buffer
            buffer = grown
        filled = _fill(stream, memoryview(buffer[count]).cast("B"))
        if filled == 0:
            break
        if filled < buffer[count].nbytes:
            return buffer[:count], False
        count += 1
    return buffer[:count], True


def _fill(stream: IO[bytes], view: memoryview) -> int:
    filled = 0
    while filled < len(view):
        got = stream.readinto(view[filled:])  # type: ignore[attr-defined]
        if not got:
            break
        filled += got
    return filled


def _check_complete(path: Path, info: VideoInfo, count: int, log: list[str]) -> None:
    """Refuse a clip ffmpeg reported errors for, one with no frames, or one with fewer frames than it declares."""
    reason = _ffmpeg_reason(log)
    declared = info.frames
    hint = _REENCODE_HINT.format(name=path.name)
    if reason and (declared is None or count < declared):
        of = f" of {declared}" if declared else ""
        raise VideoError(f"{path} is truncated or corrupt after frame {count}{of}: {reason}", hint)
    if reason:
        raise VideoError(f"{path} is truncated or corrupt: errors while decoding its {count} frames: {reason}", hint)
    if count == 0:
        raise VideoError(f"{path} holds no frames", "re-export it")
    if declared is not None and count < declared - 1 - declared // 100:
        raise VideoError(f"{path} is truncated after frame {count}: it declares {declared} frames", hint)


def _ffmpeg_reason(lines: list[str]) -> str:
    """The first line of ffmpeg's log that says something, without its ``[component @ 0x...]`` prefixes."""
    for line in lines:
        text = re.sub(r"\[[^\]]*@ 0x[0-9a-f]+\]\s*", "", line).strip()
        if text and not text.startswith(("ffmpeg version", "built with", "configuration:", "lib")):
            return f"ffmpeg: {text[:300]}"
    return ""


# --- GIF and image files ----------------------------------------------------------------


def read_gif(path: Path, budget: int) -> np.ndarray:
    """Every frame of an animated GIF, after its logical screen size x frame count passed the budget."""
    from PIL import ImageSequence

    with _open_image(path) as image:
        image_size = image.size
        try:
            count = image.n_frames  # skips through the frames' data blocks, decodes none
        except _PILLOW_ERRORS as exc:
            raise VideoError(f"{path} is truncated or corrupt: {_reason(exc)}", "re-export it") from None
        info = VideoInfo(image_size[0], image_size[1], count)
        check_budget(path, info, budget)
        frames = np.empty((info.frames or 1, info.height, info.width, 3), np.uint8)
        index = 0
        try:
            for index, frame in enumerate(ImageSequence.Iterator(image)):
                if index >= len(frames):
                    break
                if frame.size != image_size:  # Pillow grows the canvas for a frame that overflows it
                    raise VideoError(
                        f"{path}: frame {index} is {_wxh(frame.size)}, larger than the GIF's {_wxh(image_size)}",
                        "re-export it with one frame size",
                    )
                frames[index] = _rgb(frame, path)
        except _PILLOW_ERRORS as exc:
            raise _corrupt(path, index, exc) from None
    return frames


def read_images(files: list[Path], budget: int) -> np.ndarray:
    """One frame per image file, after every header's size was read: one size for all, within the budget."""
    sizes = [_image_size(file) for file in files]
    for file, size in zip(files, sizes, strict=True):
        if size != sizes[0]:
            raise VideoError(
                f"frames of {files[0].parent} differ in size: {files[0].name} is {_wxh(sizes[0])}, "
                f"{file.name} is {_wxh(size)}",
                "give every frame one size",
            )
    width, height = sizes[0]
    where = files[0] if len(files) == 1 else files[0].parent
    check_budget(where, VideoInfo(width, height, len(files)), budget)
    frames = np.empty((len(files), height, width, 3), np.uint8)
    for index, file in enumerate(files):
        try:
            with _open_image(file) as image:
                frames[index] = _rgb(image, file)
        except _PILLOW_ERRORS as exc:
            raise VideoError(f"frame file {file} is truncated or corrupt: {_reason(exc)}", "re-export it") from None
    return frames


def _wxh(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def _image_size(file: Path) -> tuple[int, int]:
    with _open_image(file) as image:
        return image.size


def _open_image(file: Path) -> Any:
    """Pillow's lazy open (the header only), with its own decompression-bomb refusal as a clear error."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own budget decides
            return Image.open(file)
    except Image.DecompressionBombError as exc:
        raise VideoTooLargeError(f"{file} is too large to decode: {exc}", "shrink it first") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise VideoError(f"{file} is not a readable image: {_reason(exc)}", "re-export it") from None


def _rgb(frame: Any, file: Path) -> np.ndarray:
    array = np.asarray(frame.convert("RGB"))
    if array.ndim != 3 or array.shape[2] != 3:
        raise VideoError(f"{file} decoded to an array of shape {array.shape}", "re-export it")
    return array


def _corrupt(path: Path, index: int, exc: BaseException) -> VideoError:
    return VideoError(f"{path} is truncated or corrupt after frame {index}: {_reason(exc)}", "re-export it")


def _reason(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0][:300] if lines else 'no reason given'}"
