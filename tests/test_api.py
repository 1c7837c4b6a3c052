"""The one-call Python API (``sora_core.generate``, ``load_video``, ``caption``, ``ask``, ``summarize``) and the
command line over it: the same video for the same seed, numbered files for several prompts, ``--strict``,
a template's extra outputs kept, atomic writes, and clear errors."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

import sora_core
from sora_core.api import StrictWarningError, Video
from sora_core.cli.main import main
from sora_core.errors import ConfigError, SoraError, SoraWarning
from sora_core.video_io import VideoError, VideoTooLargeError, read_video, write_video

for plugin in ("sora_understand", "sora_dit", "sora_text", "sora_vae"):
    pytest.importorskip(plugin, reason="the templates need sora-understand, sora-dit, sora-text and sora-vae")

#: The shipped size (no size warning), two steps and one candidate: a few seconds a video on a CPU.
FAST = {"steps": 2, "candidates": 1}
FAST_FLAGS = ["--steps", "2", "--candidates", "1"]
#: A size the shipped weights were not trained at.
SMALL = {"frames": 5, "height": 32, "width": 48, **FAST}
PROMPT = "a red circle moving right"
HEUN = "sora-dit:rectified-flow-heun"
MARK = "test-only warning: the compositor was asked to warn"


@pytest.fixture(scope="module")
def made() -> Video:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SoraWarning)  # the small size is outside the shipped weights' training
        return sora_core.generate(PROMPT, seed=3, **SMALL)


@pytest.fixture
def warning_compositor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the t2v template's compositor raise a SoraWarning, as a particle does for a result its weights
    were not made for (independent of which plugins warn today)."""
    from sora_core import registry

    cls = registry.get_class("sora-dit:layer-compositor")
    forward = cls.forward

    def warning_forward(self, **inputs):
        warnings.warn(MARK, SoraWarning, stacklevel=2)
        return forward(self, **inputs)

    monkeypatch.setattr(cls, "forward", warning_forward)


def square_clip(colour: tuple[int, int, int], frames: int = 9) -> np.ndarray:
    """A large square of ``colour`` on black, moving right by 3 pixels a frame (few colours: a GIF keeps them)."""
    video = np.full((frames, 64, 64, 3), 8, dtype=np.uint8)
    for t in range(frames):
        video[t, 24:42, 6 + 3 * t : 24 + 3 * t] = colour
    return video


def run_cli(*args: str) -> int:
    return main([str(a) for a in args])


# --- the package stays light ---------------------------------------------------------------------------


def test_the_api_names_resolve_without_importing_torch() -> None:
    code = (
        "import sys, sora_core\n"
        "from sora_core import generate, load_video, caption, ask, summarize, Video\n"
        "assert callable(generate) and callable(summarize) and Video.__name__ == 'Video'\n"
        "print('torch' in sys.modules, 'numpy' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"], result.stdout + result.stderr


# --- generate --------------------------------------------------------------------------------------------


def test_generate_returns_a_video_with_the_asked_shape(made: Video) -> None:
    assert made.shape == (5, 32, 48) and len(made) == 5
    assert made.frames.shape == (5, 32, 48, 3) and made.frames.dtype == np.uint8
    assert not made.frames.flags.writeable, "frames are a snapshot"
    assert tuple(made.tensor.shape) == (3, 5, 32, 48) and str(made.tensor.dtype) == "torch.float32"
    assert float(made.tensor.min()) >= -1 and float(made.tensor.max()) <= 1
    assert (made.prompt, made.seed, made.outputs) == (PROMPT, 3, {})
    assert repr(made) == f"Video(5 frames of 48x32, prompt={PROMPT!r}, seed=3)"
    # the frames are the tensor's, quantised as a file would hold them
    from sora_core.video_io import to_frames

    assert np.array_equal(made.frames, to_frames(made.tensor))


def test_save_writes_mp4_and_gif_and_load_video_reads_them_back(made: Video, tmp_path: Path) -> None:
    assert made.save(tmp_path / "x.mp4") == tmp_path / "x.mp4"
    made.save(str(tmp_path / "x.gif"), fps=4)
    made.save(tmp_path / "big.gif", scale=2)
    mp4 = sora_core.load_video(tmp_path / "x.mp4")
    assert mp4.shape == (5, 32, 48) and mp4.path == tmp_path / "x.mp4" and mp4.prompt is None
    assert np.abs(mp4.frames.astype(int) - made.frames.astype(int)).mean() < 4, "H.264 is close, not exact"
    assert sora_core.load_video(tmp_path / "big.gif").shape == (5, 64, 96)
    made.save_contact_sheet(tmp_path / "sheet.png")
    assert read_video(tmp_path / "sheet.png").shape[1:] == (2 * 32 + 2, 3 * 48 + 4, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.gif", "sheet.png", "x.gif", "x.mp4"]


def test_load_video_round_trips_exactly_through_a_gif_and_a_frame_folder(tmp_path: Path) -> None:
    frames = square_clip((220, 40, 40))
    video = Video(frames)
    video.save(tmp_path / "clip.gif")
    again = sora_core.load_video(tmp_path / "clip.gif")
    assert np.array_equal(again.frames, frames)
    assert np.array_equal(again.tensor.numpy(), video.tensor.numpy())
    folder = tmp_path / "frames"
    folder.mkdir()
    from PIL import Image

    for t, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"frame{t}.png")
    assert np.array_equal(sora_core.load_video(folder).frames, frames)
    # a float tensor in, the same frames out
    assert np.array_equal(Video(video.tensor[None]).frames, frames)


def test_a_failed_save_leaves_no_file_and_an_old_file_untouched(
    made: Video, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sora_core import video_io

    target = tmp_path / "x.mp4"
    target.write_bytes(b"the old video")

    def half_then_fail(frames, path, fps):
        Path(path).write_bytes(b"half a video")
        raise VideoError(f"ffmpeg could not encode {Path(path).name}: disk full", "check free disk space")

    monkeypatch.setattr(video_io, "_write_mp4", half_then_fail)
    with pytest.raises(VideoError, match="disk full"):
        made.save(target)
    with pytest.raises(VideoError, match="disk full"):
        made.save(tmp_path / "new.mp4")
    assert target.read_bytes() == b"the old video"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.mp4"], "no temporary or half-written file is left"


def test_the_cli_and_the_api_make_the_same_videos_and_several_prompts_are_numbered(tmp_path: Path, capsys) -> None:
    prompts = [PROMPT, "a blue square moving left"]
    code = run_cli(
        "generate", *prompts, "-o", tmp_path / "out.mp4", "--gif", tmp_path / "out.gif", "--seed", 5, *FAST_FLAGS
    )
    assert code == 0
    err = capsys.readouterr().err
    names = ["out-1.gif", "out-1.mp4", "out-2.gif", "out-2.mp4"]
    assert sorted(p.name for p in tmp_path.iterdir()) == names
    assert f"out-2.mp4, {tmp_path / 'out-2.gif'}: 9 frames of 64x64 from 'a blue square moving left' (seed 5" in err
    videos = sora_core.generate_all(prompts, seed=5, **FAST)
    one = sora_core.generate(prompts[1], seed=5, **FAST)
    assert np.array_equal(one.frames, videos[1].frames), "each prompt runs as it would alone"
    assert not np.array_equal(videos[0].frames, videos[1].frames)
    for number, video in enumerate(videos, 1):
        video.save(tmp_path / f"api-{number}.mp4")
        video.save(tmp_path / f"api-{number}.gif")
        for suffix in ("mp4", "gif"):
            cli = (tmp_path / f"out-{number}.{suffix}").read_bytes()
            assert cli == (tmp_path / f"api-{number}.{suffix}").read_bytes(), f"out-{number}.{suffix}"


def test_prompts_file_one_a_line_and_files_checked_before_the_run(tmp_path: Path, capsys) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# a comment\na red circle moving right\n\n  a green square moving up  \n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    assert run_cli("generate", "--prompts", prompts, "-o", out / "clip.gif", *FAST_FLAGS, "--seed", 1) == 0
    err = capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["clip-1.gif", "clip-2.gif"]
    assert "from 'a green square moving up' (seed 1" in err
    # a bad file for the second prompt is found before anything runs or is written
    (tmp_path / "blocked-2.mp4").mkdir()
    assert run_cli("generate", "--prompts", prompts, "-o", tmp_path / "blocked.mp4") == 1
    assert "--output " + str(tmp_path / "blocked-2.mp4") + ": is a directory" in capsys.readouterr().err
    assert not (tmp_path / "blocked-1.mp4").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--prompts", "{tmp}/missing.txt"], "--prompts {tmp}/missing.txt does not exist"),
        (["--prompts", "{tmp}/empty.txt"], "holds no prompt"),
        (["--prompts", "{tmp}/latin1.txt"], "is not UTF-8 text"),
        (["a", "--prompts", "{tmp}/empty.txt"], "both as arguments and with --prompts"),
        ([], "no prompt given"),
        (["a", "  "], "the prompt is empty"),
        (["a", "--gif", "{tmp}/x.mp4"], "unknown GIF format"),
        (["a", "-o", "{tmp}/x.gif", "--gif", "{tmp}/x.gif"], "would be written twice"),
        (["a", "--guidance", "-1"], "--guidance -1.0 is out of range"),
        (["a", "--seed", "-1"], "--seed -1 is out of range"),
        (["a", "--template", "v2t"], "is not a text-to-video pipeline"),
        (["a", "--extras", "{tmp}/e.safetensors"], "pipeline 't2v' has no outputs besides 'video'"),
    ],
)
def test_bad_generate_requests_fail_in_one_line_and_write_nothing(
    tmp_path: Path, capsys, args: list[str], expected: str
) -> None:
    (tmp_path / "empty.txt").write_text("\n# only a comment\n", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("un cercle rouge qui s'\xe9loigne\n".encode("latin-1"))
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "-o" not in argv:
        argv += ["-o", str(tmp_path / "x.mp4")]
    assert run_cli("generate", *argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected.replace("{tmp}", str(tmp_path)) in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_prompts_from_standard_input(tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"# nothing but a comment\n\n")))
    assert run_cli("generate", "--prompts", "-", "-o", tmp_path / "x.mp4") == 1
    assert "--prompts - holds no prompt" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"x" * (1 << 20) + b"\n")))
    assert run_cli("generate", "--prompts", "-", "-o", tmp_path / "x.mp4") == 1
    assert "--prompts - is over 1,048,576 bytes" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


# --- warnings and --strict -------------------------------------------------------------------------------


def test_a_sora_warning_is_a_warning_line_and_under_strict_an_error_with_nothing_written(
    tmp_path: Path, capsys, warning_compositor: None
) -> None:
    assert run_cli("generate", PROMPT, "-o", tmp_path / "x.mp4", *FAST_FLAGS) == 0
    err = capsys.readouterr().err
    assert f"warning: {MARK}\n" in err and err.count(MARK) == 1
    assert (tmp_path / "x.mp4").exists()
    strict = tmp_path / "strict"
    strict.mkdir()
    argv = ["generate", PROMPT, "two", "-o", strict / "x.mp4", "--gif", strict / "x.gif", "--strict", *FAST_FLAGS]
    assert run_cli(*argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and MARK in err and "hint: drop --strict" in err
    assert not list(strict.iterdir())


def test_the_api_raises_sora_warnings_keeps_them_and_strict_refuses(warning_compositor: None) -> None:
    with pytest.warns(SoraWarning, match=MARK):
        video = sora_core.generate(PROMPT, **FAST)
    assert MARK in video.warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error", SoraWarning)  # a caller's own filter applies to the raised warnings
        with pytest.raises(SoraWarning, match=MARK):
            sora_core.generate(PROMPT, **FAST)
    with pytest.raises(StrictWarningError, match=MARK) as caught:
        sora_core.generate(PROMPT, strict=True, **FAST)
    assert isinstance(caught.value, SoraError) and caught.value.hint.startswith("pass strict=False")


def test_a_size_outside_training_warns_through_the_api(made: Video) -> None:
    """Whatever the plugins warn about is on the video: here the small size (when the sampler warns of it)."""
    assert all(isinstance(message, str) for message in made.warnings)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        video = sora_core.generate(PROMPT, seed=3, **SMALL)
    assert [str(w.message) for w in caught if issubclass(w.category, SoraWarning)] == video.warnings
    assert np.array_equal(video.frames, made.frames)


# --- a template's extra outputs --------------------------------------------------------------------------


def extra_outputs_spec(tmp_path: Path) -> Path:
    """The t2v template with the sampled latent, the layer prompts and the layer count as outputs too."""
    from sora_dit import hooks

    spec = yaml.safe_load((hooks.TEMPLATES / "t2v.yaml").read_text(encoding="utf-8"))
    spec["name"] = "t2v-extras"
    spec["outputs"].update({"latent": "sampler.latent", "text": "prompts.text", "layers": "prompts.layers"})
    path = tmp_path / "t2v-extras.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def test_generate_keeps_a_templates_extra_outputs(tmp_path: Path, capsys) -> None:
    from safetensors import safe_open

    spec = extra_outputs_spec(tmp_path)
    video = sora_core.generate(PROMPT, template=yaml.safe_load(spec.read_text()), **FAST)  # a spec as plain data
    assert sorted(video.outputs) == ["latent", "layers", "text"]
    assert tuple(video.outputs["latent"].shape) == (1, 8, 3, 16, 16)
    assert run_cli("generate", PROMPT, "-o", tmp_path / "x.mp4", "--template", spec, *FAST_FLAGS) == 0
    assert "x.extras.safetensors" in capsys.readouterr().err
    with safe_open(tmp_path / "x.extras.safetensors", "pt") as extras:
        assert sorted(extras.keys()) == ["latent", "layers"]
        assert extras.get_tensor("latent").equal(video.outputs["latent"])
        assert json.loads(extras.metadata()["text"]) == list(video.outputs["text"])
    assert (
        run_cli("generate", PROMPT, "-o", tmp_path / "y.mp4", "--template", spec, "--extras", tmp_path / "e.txt") == 1
    )
    assert "--extras " + str(tmp_path / "e.txt") in capsys.readouterr().err
    assert not (tmp_path / "y.mp4").exists()
    video.save_outputs(tmp_path / "api.safetensors")
    assert (tmp_path / "api.safetensors").stat().st_size > 0


# --- understanding: a path or a Video --------------------------------------------------------------------


def test_caption_ask_and_summarize_agree_on_a_path_and_a_video(tmp_path: Path, capsys) -> None:
    frames = np.full((17, 64, 64, 3), 8, dtype=np.uint8)
    for t in range(17):
        left = 4 + 3 * min(t, 8)
        frames[t, 20:38, left : left + 18] = (40, 190, 60)
    path = tmp_path / "stop.gif"
    write_video(frames, path)
    in_memory = Video(frames)
    words = sora_core.caption(path)
    assert "green square" in words
    assert sora_core.caption(in_memory) == sora_core.caption(str(path)) == words
    assert sora_core.ask(path, "what colour is the square?") == sora_core.ask(in_memory, "what colour is the square?")
    assert sora_core.ask(in_memory, "what colour is the square?") == "green"
    summary = sora_core.summarize(path)
    again = sora_core.summarize(in_memory)
    assert (summary.text, summary.key_frames) == (again.text, again.key_frames)
    assert "the green square stops" in str(summary) and any(abs(f - 8) <= 1 for f in summary.key_frames)
    assert summary.images.shape == (len(summary.key_frames), 64, 64, 3)
    summary.save_sheet(tmp_path / "keys.png", scale=2)
    assert read_video(tmp_path / "keys.png").shape[1] == 128
    # the command line prints what the API returns
    assert run_cli("caption", path) == 0
    assert capsys.readouterr().out.strip() == words
    assert run_cli("summarize", path, "--json") == 0
    assert json.loads(capsys.readouterr().out) == {"summary": summary.text, "key_frames": summary.key_frames}


def test_a_summary_without_key_frames_says_the_sheet_was_not_written(tmp_path: Path, capsys) -> None:
    still = np.full((9, 64, 64, 3), 8, dtype=np.uint8)
    write_video(still, tmp_path / "still.gif")
    summary = sora_core.summarize(tmp_path / "still.gif")
    if summary.key_frames:
        pytest.skip("the summarizer found key frames in an empty clip")
    with pytest.raises(ConfigError, match="no key frames"):
        summary.save_sheet(tmp_path / "keys.png")
    assert run_cli("summarize", tmp_path / "still.gif", "--sheet", tmp_path / "keys.png") == 0
    assert "not written: no key frames were found" in capsys.readouterr().err
    assert not (tmp_path / "keys.png").exists()


# --- failures --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "expected"),
    [
        (lambda: sora_core.generate("  "), ConfigError, "the prompt is empty"),
        (lambda: sora_core.generate(["a", "b"]), ConfigError, "a prompt is a text, got list"),
        (lambda: sora_core.generate_all("a red circle"), ConfigError, "takes a list of prompts"),
        (lambda: sora_core.generate_all([]), ConfigError, "no prompt given"),
        (lambda: sora_core.generate("a", template="t2v", model="x"), ConfigError, "template and model both"),
        (lambda: sora_core.generate("a", guidance=-1), ConfigError, "guidance=-1 is out of range"),
        (lambda: sora_core.generate("a", seed=-1), ConfigError, "seed -1 is out of range"),
        (lambda: sora_core.generate("a", fps=0), ConfigError, "fps 0 is out of range"),
        (lambda: sora_core.generate("a", dtype="int8"), ConfigError, "dtype='int8' is not a compute dtype"),
        (lambda: sora_core.generate("a", template="no-such-template"), SoraError, "no installed plugin provides"),
        (lambda: sora_core.generate("a", template="v2t"), ConfigError, "is not a text-to-video pipeline"),
        (lambda: sora_core.generate("a", template=3), ConfigError, "a template is a name, a spec file or a spec"),
        (
            lambda: sora_core.generate("a", swaps={"nowhere": "sora-dit:rectified-flow-heun"}),
            SoraError,
            "unknown node 'nowhere'",
        ),
        (lambda: sora_core.generate("a", swaps="scheduler=x"), ConfigError, "is one text"),
        (lambda: sora_core.generate("a", settings={"sampler.frames": object()}), ConfigError, "not a plain value"),
        (lambda: sora_core.generate("a", settings={"nowhere": {"steps": 2}}), SoraError, "unknown node 'nowhere'"),
        (lambda: sora_core.generate("a", frames=4097, height=512, width=512), VideoTooLargeError, "frames=4097"),
        (lambda: sora_core.load_video("nowhere.mp4"), VideoError, "nowhere.mp4 does not exist"),
        (lambda: sora_core.load_video(3), ConfigError, "load_video takes a path"),
        (lambda: sora_core.caption(np.zeros((9, 64, 64, 3))), ConfigError, "a clip is a path or a sora_core.Video"),
        (lambda: sora_core.ask(Video(square_clip((1, 2, 3))), " "), ConfigError, "the question is empty"),
        (lambda: sora_core.caption(Video(square_clip((9, 9, 9))), template="t2v"), ConfigError, "lacks input 'video'"),
        (lambda: Video(np.zeros((9, 64, 64), np.uint8)), VideoError, "uint8 (T, H, W, 3)"),
        (lambda: Video(np.zeros((9, 64, 64, 3), np.float32)), VideoError, "uint8 (T, H, W, 3)"),
    ],
)
def test_api_failures_are_sora_errors_with_clear_messages(call, error, expected: str) -> None:
    with pytest.raises(error, match=None) as caught:
        call()
    assert expected in str(caught.value), str(caught.value)


def test_swaps_and_settings_are_the_command_lines_texts() -> None:
    from sora_core.api import _API, _setting_strings, _swap_strings

    swaps = {"a": HEUN, "b": {"particle": "p", "weights": Path("w")}, "c": {"weights": "w"}, "d": ["a=x"]}
    with pytest.raises(ConfigError, match="a swap maps a node name to a particle name or weights folder"):
        _swap_strings(swaps, _API)
    del swaps["d"]
    assert _swap_strings(swaps, _API) == [f"a={HEUN}", "b=p@w", "c=w"]
    assert _swap_strings(["a=x"], _API) == ["a=x"]
    settings = {"sampler.guidance_scale": 5, "prompts": {"negative_prompt": "blur", "max_layers": 2}}
    assert _setting_strings(settings, _API) == [
        "sampler.guidance_scale=5",
        'prompts.negative_prompt="blur"',
        "prompts.max_layers=2",
    ]
    with pytest.raises(ConfigError, match="not a plain value"):
        _setting_strings({"sampler.guidance_scale": float("nan")}, _API)


def test_bad_saves_are_refused_before_writing(made: Video, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown video format '\.avi'"):
        made.save(tmp_path / "x.avi")
    with pytest.raises(ConfigError, match="does not exist"):
        made.save(tmp_path / "missing" / "x.mp4")
    with pytest.raises(ConfigError, match="is a directory"):
        made.save(tmp_path)
    with pytest.raises(VideoTooLargeError, match="scale 1000"):
        made.save(tmp_path / "x.gif", scale=1000)
    with pytest.raises(ConfigError, match="scale 0 must be at least 1"):
        made.save(tmp_path / "x.gif", scale=0)
    with pytest.raises(ConfigError, match="fps 0 is out of range"):
        made.save(tmp_path / "x.gif", fps=0)
    assert not os.listdir(tmp_path)
