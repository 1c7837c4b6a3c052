"""Hostile video files and sizes: refused with a ``VideoError`` naming the file or flag, before the memory is spent.

Issue 22, class 12 (memory blow-ups from small inputs) and class 14 (silently accepted damaged videos, ``--fps``
nonsense). Every hostile file is built here: a GIF of 200,000 one-pixel frames on a 4096x4096 screen (4.6 MB
that decodes to 10 TB), a 100 kB MP4 of 8K frames, PNG headers declaring huge frames, truncated MP4s. Each test
asserts the exact error class and message, that the refusal came from the metadata (the decoder is replaced by
one that fails the test), and that nothing was written.
"""

from __future__ import annotations

import math
import re
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sora_core import video_decode
from sora_core.cli.main import main
from sora_core.errors import ConfigError, PortError, SoraError
from sora_core.pipeline.values import parse_value
from sora_core.video_io import (
    DEFAULT_MAX_VIDEO_PIXELS,
    VideoError,
    VideoTooLargeError,
    check_fps,
    read_video,
    to_frames,
    write_contact_sheet,
    write_video,
)


def moving_square(frames: int = 17, size: int = 64) -> np.ndarray:
    video = np.full((frames, size, size, 3), 8, np.uint8)
    for t in range(frames):
        video[t, 20:38, 2 + 2 * t : 20 + 2 * t] = (220, 40, 40)
    return video


def valid_mp4(path: Path, frames: int = 17, size: int = 64) -> Path:
    return write_video(moving_square(frames, size), path, fps=8)


def valid_gif(path: Path, frames: int = 5, size: int = 16) -> Path:
    return write_video(moving_square(frames, size), path, fps=8)


def valid_png(path: Path, size: int = 16) -> Path:
    Image.fromarray(moving_square(1, size)[0]).save(path)
    return path


def frame_folder(path: Path, frames: int = 3, size: int = 16) -> Path:
    path.mkdir()
    for index, frame in enumerate(moving_square(frames, size)):
        Image.fromarray(frame).save(path / f"frame{index}.png")
    return path


def gif_frame(size: tuple[int, int] = (1, 1)) -> bytes:
    """One GIF frame of ``size`` at the top left, 10 ms, whose data is a single pixel of colour 0."""
    control = b"\x21\xf9\x04\x00\x01\x00\x00\x00"
    descriptor = b"\x2c" + struct.pack("<HHHHB", 0, 0, *size, 0)
    return control + descriptor + b"\x02\x02\x44\x01\x00"  # LZW, minimum code size 2


def gif_bytes(width: int, height: int, frames: bytes) -> bytes:
    """A looping GIF with a two-colour table on a ``width`` x ``height`` screen holding ``frames``."""
    header = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    return header + b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00" + frames + b"\x3b"


def many_frame_gif(width: int, height: int, frames: int) -> bytes:
    """``frames`` one-pixel frames on a ``width`` x ``height`` screen: ~20 bytes a frame on disk."""
    return gif_bytes(width, height, gif_frame() * frames)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` and whose pixel data is one empty zlib stream."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def huge_mp4(path: Path, *, width: int = 7680, height: int = 4320, frames: int = 3) -> Path:
    """About 100 kB of H.264 declaring ``frames`` frames of 8K: one flat colour, the lowest quality."""
    import imageio_ffmpeg

    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi"]
    command += ["-i", f"color=c=black:s={width}x{height}:r=8", "-frames:v", str(frames), "-c:v", "libx264"]
    command += ["-preset", "ultrafast", "-crf", "51", "-pix_fmt", "yuv420p", str(path)]
    subprocess.run(command, check=True, capture_output=True)
    return path


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if any frame is decoded: a refusal must come from the metadata alone."""

    def decoded(*args: object, **kwargs: object) -> None:
        raise AssertionError("a frame was decoded before the budget check refused the file")

    monkeypatch.setattr(video_decode, "_decode_mp4", decoded)
    monkeypatch.setattr(video_decode, "_rgb", decoded)


def pixels(count: int) -> str:
    return f"{count:,}"


# --- class 12: the pixel budget is checked before decoding ---------------------------------------------


def test_a_gif_of_200000_frames_is_refused_from_its_header(tmp_path: Path, no_decoding: None) -> None:
    path = tmp_path / "many.gif"
    path.write_bytes(many_frame_gif(4096, 4096, 200_000))
    assert path.stat().st_size < 5 * 2**20  # 4.6 MB on disk, 10 TB as RGB frames
    with pytest.raises(VideoTooLargeError) as raised:
        read_video(path)
    assert raised.value.message == (
        f"{path} holds 200000 frames of 4096x4096 = {pixels(200_000 * 4096 * 4096)} pixels, over the limit of "
        f"{pixels(DEFAULT_MAX_VIDEO_PIXELS)} pixels (frames x width x height), checked before decoding"
    )
    assert "SORA_MAX_VIDEO_PIXELS" in (raised.value.hint or "")


def test_an_mp4_of_8k_frames_is_refused_from_its_header(tmp_path: Path, no_decoding: None) -> None:
    path = huge_mp4(tmp_path / "8k.mp4")
    assert path.stat().st_size < 200_000
    with pytest.raises(VideoTooLargeError) as raised:
        read_video(path)
    assert raised.value.message == (
        f"{path} holds 3 frames of 7680x4320 = {pixels(3 * 7680 * 4320)} pixels, over the limit of "
        f"{pixels(DEFAULT_MAX_VIDEO_PIXELS)} pixels (frames x width x height), checked before decoding"
    )


def test_the_budget_is_an_argument_and_an_environment_variable(tmp_path: Path, monkeypatch) -> None:
    path = valid_mp4(tmp_path / "clip.mp4")  # 17 frames of 64x64 = 69,632 pixels
    assert read_video(path, max_pixels=17 * 64 * 64).shape == (17, 64, 64, 3)
    with pytest.raises(VideoTooLargeError, match="over the limit of 69,631 pixels"):
        read_video(path, max_pixels=17 * 64 * 64 - 1)
    monkeypatch.setenv("SORA_MAX_VIDEO_PIXELS", "69631")
    with pytest.raises(VideoTooLargeError, match="over the limit of 69,631 pixels"):
        read_video(path)
    for bad in ("lots", "0", "-5", "1e9"):
        monkeypatch.setenv("SORA_MAX_VIDEO_PIXELS", bad)
        with pytest.raises(ConfigError, match=re.escape(f"$SORA_MAX_VIDEO_PIXELS={bad!r} is not a positive")):
            read_video(path)
    monkeypatch.delenv("SORA_MAX_VIDEO_PIXELS")
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ConfigError, match="max_pixels="):
            read_video(path, max_pixels=bad)  # type: ignore[arg-type]


def test_an_mp4_with_more_frames_than_it_declares_stops_at_the_budget(tmp_path: Path, monkeypatch) -> None:
    """Metadata can lie: decoding stops one frame past the budget, whatever the container said."""
    path = valid_mp4(tmp_path / "clip.mp4")
    monkeypatch.setattr(video_decode, "probe_mp4", lambda p: video_decode.VideoInfo(64, 64, 1))
    with pytest.raises(VideoTooLargeError) as raised:
        read_video(path, max_pixels=4 * 64 * 64)
    assert raised.value.message == (
        f"{path} holds more than 4 frames of 64x64 (more than its metadata declares), over the limit of "
        "16,384 pixels; decoding stopped there"
    )


@pytest.mark.parametrize(
    ("width", "height", "error", "message"),
    [
        (5000, 5000, VideoTooLargeError, "holds 1 frames of 5000x5000 = 25,000,000 pixels, over the limit"),
        (100_000, 100_000, VideoTooLargeError, "is too large to decode: Image size (10000000000 pixels) exceeds"),
        (0, 16, VideoError, "is not a readable image"),
    ],
)
def test_png_headers_are_checked_before_decoding(
    tmp_path: Path, no_decoding: None, width: int, height: int, error: type[Exception], message: str
) -> None:
    path = tmp_path / "frame.png"
    path.write_bytes(png_header_only(width, height))
    with pytest.raises(error, match=re.escape(message)):
        read_video(path)
    folder = tmp_path / "frames"
    folder.mkdir()
    path.rename(folder / "frame0.png")
    with pytest.raises(error, match=re.escape(message)):
        read_video(folder)


def test_a_folder_of_too_many_frames_is_refused_from_the_file_count(tmp_path: Path, no_decoding: None) -> None:
    folder = frame_folder(tmp_path / "frames", frames=5, size=16)
    with pytest.raises(VideoTooLargeError) as raised:
        read_video(folder, max_pixels=4 * 16 * 16)
    assert raised.value.message.startswith(f"{folder} holds 5 frames of 16x16 = 1,280 pixels, over the limit of 1,024")


def test_frames_of_different_sizes_are_refused_before_decoding(tmp_path: Path, no_decoding: None) -> None:
    folder = frame_folder(tmp_path / "frames", frames=3, size=16)
    (folder / "frame1.png").write_bytes(png_header_only(4000, 16))
    with pytest.raises(VideoError) as raised:
        read_video(folder)
    assert raised.value.message == f"frames of {folder} differ in size: frame0.png is 16x16, frame1.png is 4000x16"


def test_a_gif_frame_larger_than_its_screen_is_refused_before_pillow_allocates_it(tmp_path: Path) -> None:
    path = tmp_path / "grows.gif"
    path.write_bytes(gif_bytes(1, 1, gif_frame() + gif_frame((8000, 8000))))  # a frame of 8000x8000 on a 1x1 screen
    with pytest.raises(VideoError, match=re.escape(f"{path}: frame 1 is 8000x8000, larger than the GIF's 1x1")):
        read_video(path)


# --- class 14: truncated and corrupt files are refused, not read as if whole -------------------------


@pytest.mark.parametrize("fraction", [0.05, 0.25, 0.5, 0.75, 0.999])
def test_a_truncated_mp4_is_refused_naming_the_last_good_frame(tmp_path: Path, fraction: float) -> None:
    data = valid_mp4(tmp_path / "clip.mp4").read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: max(1, math.floor(len(data) * fraction))])
    with pytest.raises(VideoError) as raised:
        read_video(path)
    assert type(raised.value) is VideoError
    truncated = r"is truncated or corrupt( after frame \d+ of 17|: errors while decoding its 17 frames): ffmpeg: .+"
    unreadable = r"is not a readable video: (ffmpeg: .+|it holds no video stream \(is it truncated\?\))"
    assert re.fullmatch(rf"{re.escape(str(path))} ({truncated}|{unreadable})", raised.value.message), (
        raised.value.message
    )


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.mp4", b"", "is not a readable video: ffmpeg:"),
        ("text.mp4", b"not a video at all", "is not a readable video: ffmpeg: moov atom not found"),
        ("playlist.mp4", b"#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n", "is not a readable video"),
        ("gif-inside.mp4", many_frame_gif(4, 4, 2), "is not a readable video: ffmpeg: moov atom not found"),
        ("empty.gif", b"", "is not a readable image: UnidentifiedImageError"),
        ("header.gif", many_frame_gif(16, 16, 3)[:13], "is not a readable image: UnidentifiedImageError"),
        ("empty.png", b"", "is not a readable image"),
    ],
)
def test_files_that_are_not_videos_are_refused(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(VideoError, match=re.escape(message)):
        read_video(path)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_device_named_like_a_video_is_refused_before_it_is_read(tmp_path: Path) -> None:
    (tmp_path / "zero.mp4").symlink_to("/dev/zero")
    with pytest.raises(VideoError, match=re.escape(f"{tmp_path / 'zero.mp4'} is not a regular file or folder")):
        read_video(tmp_path / "zero.mp4")


@pytest.mark.parametrize(("maker", "name"), [(valid_gif, "clip.gif"), (valid_png, "frame.png")])
def test_truncated_gifs_and_pngs_are_refused(tmp_path: Path, maker, name: str) -> None:
    data = maker(tmp_path / name).read_bytes()
    path = tmp_path / f"cut{Path(name).suffix}"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoError, match=r"is truncated or corrupt( after frame \d+)?: (OSError|IndexError): "):
        read_video(path)


# --- sizes a user asks for: --scale, --fps, --frames/--height/--width ---------------------------------


@pytest.mark.parametrize("fps", [math.nan, 0, 0.0, -3, math.inf, -math.inf, 1e9, 0.01, "eight", None])
def test_write_video_refuses_fps_outside_its_range(tmp_path: Path, fps: object) -> None:
    with pytest.raises(
        ConfigError, match=r"fps .* is out of range: frames per second must be a number from 0.1 to 1000"
    ):
        write_video(moving_square(3, 8), tmp_path / "clip.mp4", fps=fps)  # type: ignore[arg-type]
    assert not list(tmp_path.iterdir())
    assert check_fps(0.1) == 0.1 and check_fps(1000) == 1000.0


@pytest.mark.parametrize(
    ("scale", "error", "message"),
    [
        (0, ConfigError, "scale 0 must be at least 1 (valid: 1 to 73)"),
        (-2, ConfigError, "scale -2 must be at least 1"),
        (1.5, ConfigError, "scale 1.5 must be at least 1"),
        (257, VideoTooLargeError, "scale 257 would make 3 frames of 16448x16448"),
        (100_000, VideoTooLargeError, "scale 100000 would make 3 frames of 6400000x6400000"),
    ],
)
def test_to_frames_refuses_a_scale_beyond_the_limits(scale: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        to_frames(torch.zeros(3, 3, 64, 64), scale=scale)  # type: ignore[arg-type]


def test_a_contact_sheet_beyond_the_limits_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SORA_MAX_IMAGE_SIDE", "100")
    with pytest.raises(VideoTooLargeError, match="a contact sheet of 9 frames of 64x64 exceeds 100 pixels a side"):
        write_contact_sheet(moving_square(9, 64), tmp_path / "sheet.png")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("fps", ["nan", "0", "-3", "inf", "-inf", "1e9"])
def test_generate_refuses_fps_before_anything_runs(tmp_path: Path, capsys, fps: str) -> None:
    assert main(["generate", "a red circle", "-o", str(tmp_path / "x.mp4"), f"--fps={fps}"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: --fps {float(fps):g} is out of range: frames per second must be a number from 0.1")
    assert "Traceback" not in err and "unexpected" not in err
    assert not list(tmp_path.iterdir())


t2v = pytest.mark.skipif(
    not all(__import__("importlib").util.find_spec(p) for p in ("sora_dit", "sora_text", "sora_vae")),
    reason="the t2v template needs sora-dit, sora-text and sora-vae",
)
SMALL = ["--frames", "5", "--height", "32", "--width", "48", "--steps", "1", "--candidates", "1"]


@t2v
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--scale", "1000"],
            "error: --scale 1000 would make 5 frames of 48000x32000, over the limits of 16,384 "
            "pixels a side and 67,108,864 pixels in all (valid: 1 to 93 for 48x32 frames)",
        ),
        (["--scale", "200", "--contact-sheet", "{tmp}/s.png"], "error: --scale 200 would make a contact sheet"),
        (["--height", "100000", "--width", "100000"], "error: --frames 5 --height 100000 --width 100000: 5 frames"),
        (["--frames", "100001"], "error: --frames 100001 --height 32 --width 48: 100001 frames of 48x32"),
    ],
)
def test_generate_refuses_sizes_beyond_the_limits_before_the_run(
    tmp_path: Path, capsys, monkeypatch, args: list[str], message: str
) -> None:
    def no_run(*a: object, **k: object) -> None:
        raise AssertionError("the pipeline ran before its output size was checked")

    monkeypatch.setattr("sora_core.pipeline.Pipeline.run", no_run)
    argv = ["generate", "a red circle", "-o", str(tmp_path / "x.mp4"), *SMALL, *args]
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith(message) and "Traceback" not in err and "unexpected" not in err
    assert not list(tmp_path.iterdir())


understand = pytest.mark.skipif(
    not all(__import__("importlib").util.find_spec(p) for p in ("sora_understand", "sora_vae")),
    reason="the understanding templates need sora-understand and sora-vae",
)


@understand
def test_summarize_refuses_a_huge_scale_before_building(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr("sora_core.cli.pipeline_commands.build", lambda args: pytest.fail("built the pipeline"))
    clip = valid_gif(tmp_path / "clip.gif", frames=5, size=64)
    assert main(["summarize", str(clip), "--sheet", str(tmp_path / "keys.png"), "--scale", "100000"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        "error: --scale 100000 would make a contact sheet of 1 frames of 6400000x6400000, over the limits of 16,384 "
        "pixels a side and 67,108,864 pixels in all (valid: 1 to 128 for 64x64 frames)"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.gif"]


@understand
@pytest.mark.parametrize("command", [["caption"], ["ask", "what colour is it?"], ["summarize"]])
def test_understanding_commands_refuse_hostile_clips_in_one_line(tmp_path: Path, capsys, command: list[str]) -> None:
    gif = tmp_path / "many.gif"
    gif.write_bytes(many_frame_gif(4096, 4096, 20_000))
    data = valid_mp4(tmp_path / "clip.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    for clip, message in ((gif, "holds 20000 frames of 4096x4096"), (tmp_path / "cut.mp4", "is truncated or corrupt")):
        assert main([command[0], str(clip), *command[1:]]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"error: {clip} {message}") and "Traceback" not in err and "unexpected" not in err


def test_video_inputs_of_a_pipeline_are_refused_with_the_input_named(tmp_path: Path, no_decoding: None) -> None:
    gif = tmp_path / "many.gif"
    gif.write_bytes(many_frame_gif(4096, 4096, 1000))
    with pytest.raises(PortError, match=re.escape(f"input 'video': {gif} holds 1000 frames of 4096x4096")):
        parse_value("video", str(gif), {"dtype": "float32"})


def test_refusals_are_sora_errors() -> None:
    assert issubclass(VideoTooLargeError, VideoError) and issubclass(VideoError, SoraError)
    assert np.iinfo(np.uint8).max == 255  # frames stay uint8: 3 bytes a pixel while decoding
