"""Writing and reading videos: MP4, GIF, contact sheets, frame folders, and their failure paths."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sora_core.video_io import (
    VideoError,
    contact_sheet,
    read_video,
    to_frames,
    to_video,
    write_contact_sheet,
    write_video,
)


def moving_square(frames: int = 9, size: int = 32) -> np.ndarray:
    video = np.zeros((frames, size, size, 3), np.uint8)
    for t in range(frames):
        video[t, 8:16, 2 + 2 * t : 10 + 2 * t, 0] = 255
    return video


def test_mp4_round_trip_keeps_frame_count_size_and_content(tmp_path: Path) -> None:
    frames = moving_square()
    path = write_video(frames, tmp_path / "clip.mp4", fps=8)
    back = read_video(path)
    assert back.shape == frames.shape
    assert np.abs(back.astype(int) - frames.astype(int)).mean() < 6  # lossy, but close
    centre = [np.argwhere(frame[..., 0] > 128)[:, 1].mean() for frame in back]
    assert all(b > a for a, b in itertools.pairwise(centre))  # the square still moves right
    assert not list(tmp_path.glob(".clip.mp4-*"))  # no temporary left behind


def test_odd_sizes_are_padded_for_h264(tmp_path: Path) -> None:
    back = read_video(write_video(np.zeros((3, 15, 21, 3), np.uint8), tmp_path / "odd.mp4"))
    assert back.shape == (3, 16, 22, 3)


def test_gif_and_frame_folders_read_back_exactly(tmp_path: Path) -> None:
    frames = moving_square(5)
    assert np.array_equal(read_video(write_video(frames, tmp_path / "clip.gif")), frames)
    folder = tmp_path / "frames"
    folder.mkdir()
    for index, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"frame{index}.png")  # frame10 must sort after frame9
    assert np.array_equal(read_video(folder), frames)


def test_tensor_conversion_round_trips_within_quantisation() -> None:
    video = torch.rand(3, 4, 8, 8) * 2 - 1
    frames = to_frames(video)
    assert frames.shape == (4, 8, 8, 3) and frames.dtype == np.uint8
    assert torch.allclose(to_video(frames), video, atol=1 / 127.5)
    assert to_frames(video[None], scale=3).shape == (4, 24, 24, 3)
    assert to_frames(torch.zeros(1, 2, 4, 4)).shape == (2, 4, 4, 3)  # grey is repeated to RGB


def test_contact_sheet_tiles_every_frame(tmp_path: Path) -> None:
    frames = moving_square(9, 16)
    sheet = contact_sheet(frames, gap=2)
    assert sheet.shape == (3 * 16 + 4, 3 * 16 + 4, 3)
    assert np.array_equal(sheet[18:34, 18:34], frames[4])
    path = write_contact_sheet(frames, tmp_path / "sheet.png")
    assert np.asarray(Image.open(path)).shape == sheet.shape


def test_bad_inputs_name_the_file_and_leave_nothing(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match=r"unknown video format '\.avi'"):
        write_video(moving_square(), tmp_path / "clip.avi")
    with pytest.raises(VideoError, match="frames must be uint8"):
        write_video(np.zeros((3, 8, 8)), tmp_path / "clip.mp4")
    with pytest.raises(VideoError, match="does not exist"):
        write_video(moving_square(), tmp_path / "missing" / "clip.mp4")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    with pytest.raises(VideoError, match=r"broken\.mp4 is not a readable video") as raised:
        read_video(broken)
    assert "ffmpeg version" not in str(raised.value), "the decoder's banner and log stay out of the message"
    with pytest.raises(VideoError, match="does not exist"):
        read_video(tmp_path / "nothing.mp4")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(VideoError, match=r"holds no \.png"):
        read_video(empty)
    with pytest.raises(VideoError, match=r"expected a video of shape \(C, T, H, W\)"):
        to_frames(torch.zeros(2, 3, 4))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.mp4", "empty"]


def test_a_gif_keeps_frames_that_repeat(tmp_path: Path) -> None:
    frames = np.zeros((6, 8, 8, 3), dtype=np.uint8)
    frames[:2, 2:4, 2:4] = 200  # two frames alike, then four alike: the GIF must still hold six
    back = read_video(write_video(frames, tmp_path / "still.gif"))
    assert back.shape == (6, 8, 8, 3)
    assert np.abs(back.astype(int) - frames).max() <= 1


# --- metadata, limits and the conversions' memory ----------------------------------------------------

HEADER = """Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'clip.mp4':
  Duration: 00:00:02.13, start: 0.000000, bitrate: 233 kb/s
  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive), 64x48, 230 kb/s, 8 fps, 8 tbr
      Display Matrix: rotation of {rotation} degrees
"""


@pytest.mark.parametrize(("rotation", "size"), [("0.00", (64, 48)), ("90.00", (48, 64)), ("-90.00", (48, 64))])
def test_the_mp4_header_gives_upright_size_and_declared_frames(rotation: str, size: tuple[int, int]) -> None:
    from sora_core.video_decode import VideoInfo, parse_header

    assert parse_header(Path("clip.mp4"), HEADER.format(rotation=rotation)) == VideoInfo(*size, 17)  # 2.13 s x 8 fps


def test_an_mp4_header_without_duration_declares_no_frame_count_and_no_stream_is_an_error() -> None:
    from sora_core.video_decode import parse_header

    text = HEADER.format(rotation="0").replace("Duration: 00:00:02.13", "Duration: N/A").replace("8 fps", "1k fps")
    assert parse_header(Path("clip.mp4"), text).frames is None
    assert parse_header(Path("c.mp4"), HEADER.format(rotation="0").replace("8 fps", "1k fps")).frames == 2130
    with pytest.raises(VideoError, match=r"c\.mp4 is not a readable video: ffmpeg: moov atom not found"):
        parse_header(Path("c.mp4"), "[in#0 @ 0x5579ea49b200] moov atom not found\nAt least one output file")
    with pytest.raises(VideoError, match="declares no frame size"):
        parse_header(Path("c.mp4"), "  Stream #0:0: Video: h264 (avc1 / 0x31637661), yuv420p\n")


def test_to_video_matches_the_plain_formula_exactly() -> None:
    frames = np.random.default_rng(0).integers(0, 256, (3, 5, 7, 3), dtype=np.uint8)
    expected = torch.from_numpy(frames.astype(np.float32) / 127.5 - 1.0).permute(3, 0, 1, 2)
    video = to_video(frames)
    assert video.is_contiguous() and video.dtype == torch.float32 and torch.equal(video, expected)


def test_the_largest_scale_respects_the_side_and_the_output_budget(monkeypatch) -> None:
    from sora_core.video_io import DEFAULT_MAX_OUTPUT_PIXELS, largest_scale

    assert largest_scale(17, 64, 64) == int((DEFAULT_MAX_OUTPUT_PIXELS / (17 * 64 * 64)) ** 0.5) == 31
    assert largest_scale(1, 64, 64) == 128 and largest_scale(1, 1, 1) == 8192  # 2**26 px; 16384 a side
    assert largest_scale(17, 64, 64, columns=5) == 31
    monkeypatch.setenv("SORA_MAX_IMAGE_SIDE", "640")
    assert largest_scale(1, 64, 64) == 10 and largest_scale(4, 64, 64, columns=4) == 2  # 4 x 128 + 6 <= 640
    monkeypatch.setenv("SORA_MAX_OUTPUT_PIXELS", "100")
    assert largest_scale(1, 64, 64) == 0
