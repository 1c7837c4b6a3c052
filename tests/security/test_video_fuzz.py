"""Property-based tests: random bytes and damaged copies of valid MP4, GIF and PNG files, read as videos.

Reading a file (``read_video``) and parsing ``--input video=FILE`` (``parse_value``) may succeed or raise a
``SoraError`` subclass naming the file; any other exception fails the test. MP4 examples start two ffmpeg
processes each, so their budgets are lowered (``max_examples``) below the ``ci`` profile's 150.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from sora_core.errors import SoraError
from sora_core.pipeline.values import parse_value
from sora_core.video_io import read_video, write_video

#: Every fuzzed read uses a small budget too, so a mutation that inflates a declared size is refused cheaply.
BUDGET = 64 * 64 * 64
#: GIF and PNG examples take the profile's budget; MP4 examples (two ffmpeg runs each) at most 40.
FAST = settings(suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])


def clip(frames: int = 5, size: int = 16) -> np.ndarray:
    video = np.full((frames, size, size, 3), 8, np.uint8)
    for t in range(frames):
        video[t, 4:10, t : t + 6] = (220, 40, 40)
    return video


def _valid_bytes(suffix: str) -> bytes:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"clip{suffix}"
        if suffix == ".png":
            Image.fromarray(clip(1)[0]).save(path)
        else:
            write_video(clip(), path, fps=8)
        return path.read_bytes()


VALID = {suffix: _valid_bytes(suffix) for suffix in (".mp4", ".gif", ".png")}


@st.composite
def damaged(draw: st.DrawFn, suffix: str) -> bytes:
    """A valid file truncated somewhere, or with a few bytes changed (or both)."""
    data = bytearray(VALID[suffix])
    for _ in range(draw(st.integers(0, 4))):
        position = draw(st.integers(0, len(data) - 1))
        data[position] ^= draw(st.integers(1, 255))
    if draw(st.booleans()):
        del data[draw(st.integers(0, len(data))) :]
    return bytes(data)


def read_only_sora_errors(data: bytes, suffix: str, reader: Callable[[Path], object]) -> None:
    """Write ``data`` to a fresh file and read it: success or a ``SoraError`` only."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"clip{suffix}"
        path.write_bytes(data)
        try:
            frames = reader(path)
        except SoraError as error:
            assert str(path) in str(error) or path.name in str(error), f"the error does not name the file: {error}"
            return
        assert frames is not None


def read(path: Path) -> np.ndarray:
    frames = read_video(path, max_pixels=BUDGET)
    assert frames.dtype == np.uint8 and frames.ndim == 4 and frames.shape[-1] == 3 and len(frames) >= 1
    return frames


def as_input(path: Path) -> object:
    return parse_value("video", str(path), {"dtype": "float32"})


@pytest.mark.parametrize("suffix", [".gif", ".png"])
@FAST
@given(data=st.data())
def test_damaged_gif_and_png_files_read_or_raise_sora_errors(suffix: str, data: st.DataObject) -> None:
    read_only_sora_errors(data.draw(damaged(suffix)), suffix, read)


@SLOW
@given(data=damaged(".mp4"))
def test_damaged_mp4_files_read_or_raise_sora_errors(data: bytes) -> None:
    read_only_sora_errors(data, ".mp4", read)


@pytest.mark.parametrize("suffix", [".mp4", ".gif", ".png"])
@settings(max_examples=30)
@given(data=st.binary(max_size=2048))
def test_random_bytes_read_or_raise_sora_errors(suffix: str, data: bytes) -> None:
    read_only_sora_errors(data, suffix, read)


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
@settings(max_examples=20)
@given(data=st.data())
def test_damaged_files_as_pipeline_inputs_raise_sora_errors(suffix: str, data: st.DataObject) -> None:
    read_only_sora_errors(data.draw(damaged(suffix)), suffix, as_input)


@FAST
@given(data=st.data())
def test_damaged_frames_in_a_folder_read_or_raise_sora_errors(data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory) / "frames"
        folder.mkdir()
        (folder / "frame0.png").write_bytes(VALID[".png"])
        (folder / "frame1.png").write_bytes(data.draw(damaged(".png")))
        try:
            read(folder)
        except SoraError as error:
            assert str(folder) in str(error), f"the error does not name the folder or frame: {error}"
