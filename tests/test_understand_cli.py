"""sora caption and video inputs to sora run: clips read from files, captioned by the v2t template, a round trip
from sora generate, and clear errors for what cannot be read."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sora_core.cli.main import main
from sora_core.errors import PortError
from sora_core.pipeline.values import parse_value
from sora_core.video_io import write_video

for plugin in ("sora_understand", "sora_dit", "sora_text", "sora_vae"):
    pytest.importorskip(plugin, reason="v2t and t2v need sora-understand, sora-dit, sora-text and sora-vae")


def square_clip(colour: tuple[int, int, int], frames: int = 9) -> np.ndarray:
    """A large square of ``colour`` on black, moving right by 3 pixels a frame."""
    video = np.full((frames, 64, 64, 3), 8, dtype=np.uint8)
    for t in range(frames):
        video[t, 24:42, 6 + 3 * t : 24 + 3 * t] = colour
    return video


def test_video_files_and_frame_folders_are_pipeline_inputs(tmp_path: Path) -> None:
    clip = square_clip((220, 40, 40))
    write_video(clip, tmp_path / "clip.gif")
    frames = tmp_path / "frames"
    frames.mkdir()
    for t in range(3):
        Image.fromarray(clip[t]).save(frames / f"frame{t}.png")
    video = parse_value("video", str(tmp_path / "clip.gif"), {"dtype": "float32"})
    assert video.shape == (1, 3, 9, 64, 64) and video.min() >= -1 and video.max() <= 1
    assert parse_value("video", str(frames), {"dtype": "float32"}).shape == (1, 3, 3, 64, 64)
    with pytest.raises(PortError, match=r"input 'video': .*nowhere\.mp4 does not exist"):
        parse_value("video", str(tmp_path / "nowhere.mp4"), {"dtype": "float32"})
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    with pytest.raises(PortError, match=r"broken\.mp4 is not a readable video"):
        parse_value("video", str(tmp_path / "broken.mp4"), {"dtype": "float32"})


def test_caption_of_a_clip_names_its_object(tmp_path: Path, capsys) -> None:
    write_video(square_clip((220, 40, 40)), tmp_path / "red.mp4")
    assert main(["caption", str(tmp_path / "red.mp4")]) == 0
    caption = capsys.readouterr().out.strip()
    assert "red square moving right" in caption, caption
    assert main(["caption", str(tmp_path / "red.mp4"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"caption": caption, "objects": 1}


def test_the_understanding_commands_take_a_device(tmp_path: Path, capsys) -> None:
    """--device puts the pipeline there (the same caption on the CPU); a device this machine lacks is refused
    naming the flag, before anything is built; the Python API names its keyword."""
    import torch

    from sora_core import api
    from sora_core.errors import ConfigError

    write_video(square_clip((220, 40, 40)), tmp_path / "red.mp4")
    assert main(["caption", str(tmp_path / "red.mp4"), "--device", "cpu"]) == 0
    assert "red square moving right" in capsys.readouterr().out
    assert main(["summarize", str(tmp_path / "red.mp4"), "--device", "nonsense"]) == 1
    err = capsys.readouterr().err
    assert "--device" in err and "hint:" in err and "Traceback" not in err
    with pytest.raises(ConfigError, match="device"):
        api.caption(tmp_path / "red.mp4", device="nonsense")
    if not torch.cuda.is_available():
        assert main(["ask", str(tmp_path / "red.mp4"), "what colour is it?", "--device", "cuda"]) == 1
        assert "--device 'cuda'" in capsys.readouterr().err


def test_run_v2t_reads_the_clip_named_as_input(tmp_path: Path, capsys) -> None:
    write_video(square_clip((50, 90, 235)), tmp_path / "blue.gif")
    assert main(["run", "v2t", "--input", f"video={tmp_path / 'blue.gif'}", "--json", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "blue square moving right" in printed, printed
    assert main(["run", "v2t", "--input", f"video={tmp_path / 'blue.gif'}", "--no-progress"]) == 0
    table = capsys.readouterr().out
    assert "blue square moving right" in table, "the table shows text outputs, not only their type"
    assert any(line.split()[:2] == ["count", "int64"] and line.rstrip().endswith("[1]") for line in table.splitlines())


def test_a_built_pipelines_captioner_describes_clips_without_a_run() -> None:
    from sora_core.pipeline import Pipeline
    from sora_core.video_io import to_video

    captioner = Pipeline.from_template("v2t").nodes["captioner"]
    (found,) = captioner.describe(to_video(square_clip((50, 200, 60)))[None])[0].objects
    assert (found.colour, found.shape, found.motion) == ("green", "square", "right")
    assert 0.2 < found.x < 0.4 and 0.4 < found.y < 0.6  # first-frame centre (15, 33) of 64


def test_round_trip_generate_then_caption(tmp_path: Path, capsys) -> None:
    out = tmp_path / "made.mp4"
    assert main(["generate", "a red circle moving right", "-o", str(out)]) == 0
    assert main(["caption", str(out)]) == 0
    caption = capsys.readouterr().out.strip()
    assert "red circle moving right" in caption, caption


def test_unreadable_clips_and_wrong_templates_are_clear_errors(tmp_path: Path, capsys) -> None:
    assert main(["caption", str(tmp_path / "missing.mp4")]) == 1
    err = capsys.readouterr().err
    assert "missing.mp4 does not exist" in err and "Traceback" not in err
    (tmp_path / "empty").mkdir()
    assert main(["caption", str(tmp_path / "empty")]) == 1
    assert "holds no .png or .jpg frames" in capsys.readouterr().err
    write_video(square_clip((220, 40, 40)), tmp_path / "red.gif")
    assert main(["caption", str(tmp_path / "red.gif"), "--template", "t2v"]) == 1
    assert "lacks input 'video', output 'caption'" in capsys.readouterr().err


def test_ask_answers_and_refuses_an_empty_question(tmp_path: Path, capsys) -> None:
    write_video(square_clip((240, 220, 40)), tmp_path / "yellow.gif")
    assert main(["ask", str(tmp_path / "yellow.gif"), "what colour is the square?"]) == 0
    assert capsys.readouterr().out.strip() == "yellow"
    assert main(["ask", str(tmp_path / "yellow.gif"), "how many objects are there?", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"question": "how many objects are there?", "answer": "one"}
    assert main(["ask", str(tmp_path / "yellow.gif"), " "]) == 1
    assert "the question is empty" in capsys.readouterr().err


def test_a_clip_the_encoder_cannot_take_is_a_clear_error(tmp_path: Path, capsys) -> None:
    write_video(square_clip((240, 220, 40), frames=8), tmp_path / "eight.gif")
    assert main(["caption", str(tmp_path / "eight.gif")]) == 1
    err = capsys.readouterr().err
    assert "sora-vae:causal-vae-encoder" in err and "Traceback" not in err


def test_summarize_prints_key_frames_and_writes_them_as_a_sheet(tmp_path: Path, capsys) -> None:
    video = np.full((17, 64, 64, 3), 8, dtype=np.uint8)
    for t in range(17):
        left = 4 + 3 * min(t, 8)
        video[t, 20:38, left : left + 18] = (40, 190, 60)
    write_video(video, tmp_path / "stop.gif")
    sheet = tmp_path / "keys.png"
    assert main(["summarize", str(tmp_path / "stop.gif"), "--sheet", str(sheet), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert "the green square stops" in printed["summary"]
    assert any(abs(f - 8) <= 1 for f in printed["key_frames"])
    assert Image.open(sheet).size[1] == 64
    assert main(["summarize", str(tmp_path / "stop.gif"), "--sheet", str(tmp_path / "keys.jpg")]) == 1
    assert "the sheet is a PNG" in capsys.readouterr().err
