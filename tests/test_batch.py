"""Resumable batch jobs: ``sora caption|ask|summarize DIR_OR_GLOB --out FILE.jsonl`` and ``sora generate --prompts
FILE --out-dir DIR``: one record per item in input order, a rerun that skips what is done, a bad item recorded
while the others succeed, settings that key the results, and a worker pool that gives the same output."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sora_core.batch import Parts, item_key, write_jsonl
from sora_core.cli.main import main
from sora_core.video_io import read_video, write_video

for plugin in ("sora_understand", "sora_dit", "sora_text", "sora_vae"):
    pytest.importorskip(plugin, reason="the batch commands run the v2t and t2v templates")

RED, BLUE, GREEN = (220, 40, 40), (50, 90, 235), (50, 200, 60)
SMALL = ["--frames", "5", "--height", "32", "--width", "48", "--steps", "2", "--candidates", "1"]


def square(colour: tuple[int, int, int], frames: int = 5) -> np.ndarray:
    """A large square of ``colour`` on black, moving right."""
    video = np.full((frames, 64, 64, 3), 8, dtype=np.uint8)
    for t in range(frames):
        video[t, 24:42, 6 + 3 * t : 24 + 3 * t] = colour
    return video


def clip_folder(root: Path) -> Path:
    """``a.mp4`` (red), ``b.gif`` (blue), ``c/`` (green PNG frames), and what is not a clip: a hidden clip, a text."""
    folder = root / "clips"
    folder.mkdir()
    write_video(square(RED), folder / "a.mp4")
    write_video(square(BLUE), folder / "b.gif")
    (folder / "c").mkdir()
    for t, frame in enumerate(square(GREEN)):
        Image.fromarray(frame).save(folder / "c" / f"{t:02d}.png")
    write_video(square(RED), folder / ".hidden.mp4")
    (folder / "notes.txt").write_text("not a clip\n")
    return folder


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def summary(err: str) -> str:
    (line,) = [line for line in err.splitlines() if " done, " in line]
    return line


def test_caption_batch_over_a_folder_in_order_and_a_rerun_skips_what_is_done(tmp_path: Path, capsys) -> None:
    folder, out = clip_folder(tmp_path), tmp_path / "captions.jsonl"
    assert main(["caption", str(folder), "--out", str(out)]) == 0
    assert summary(capsys.readouterr().err).startswith("caption: 3 done, 0 skipped, 0 failed (")
    records = lines(out)
    assert [r["clip"] for r in records] == [str(folder / name) for name in ("a.mp4", "b.gif", "c")]
    for record, colour in zip(records, ("red", "blue", "green"), strict=True):
        assert f"{colour} square moving right" in record["caption"], record
    parts = sorted((tmp_path / ".captions.jsonl.parts").glob("*.json"))
    assert len(parts) == 3
    stamps = [p.stat().st_mtime_ns for p in parts]

    assert main(["caption", str(folder), "--out", str(out)]) == 0  # nothing to run again
    assert summary(capsys.readouterr().err).startswith("caption: 0 done, 3 skipped, 0 failed (")
    assert [p.stat().st_mtime_ns for p in parts] == stamps and lines(out) == records

    write_video(square(BLUE), folder / "a.mp4")  # a changed clip is captioned again, the others are not
    os.utime(folder / "a.mp4", ns=(stamps[0] + 10**9, stamps[0] + 10**9))
    assert main(["caption", str(folder), "--out", str(out)]) == 0
    assert summary(capsys.readouterr().err).startswith("caption: 1 done, 2 skipped, 0 failed (")
    assert "blue square" in lines(out)[0]["caption"]


def test_ask_and_summarize_over_a_glob(tmp_path: Path, capsys) -> None:
    folder = clip_folder(tmp_path)
    out = tmp_path / "answers.jsonl"
    question = "what colour is the square?"
    assert main(["ask", str(folder / "[ab].*"), question, "--out", str(out)]) == 0
    assert [(r["clip"], r["answer"]) for r in lines(out)] == [
        (str(folder / "a.mp4"), "red"),
        (str(folder / "b.gif"), "blue"),
    ]
    out = tmp_path / "summaries.jsonl"
    assert main(["summarize", str(folder / "*.mp4"), "--out", str(out)]) == 0
    (record,) = lines(out)
    assert record["clip"] == str(folder / "a.mp4") and isinstance(record["summary"], str)
    assert isinstance(record["key_frames"], list)


def test_a_corrupt_clip_is_recorded_the_others_succeed_and_exit_status_is_1(tmp_path: Path, capsys) -> None:
    folder = clip_folder(tmp_path)
    (folder / "b2.mp4").write_bytes(np.random.default_rng(0).bytes(4096))
    out = tmp_path / "captions.jsonl"
    assert main(["caption", str(folder), "--out", str(out)]) == 1
    line = summary(capsys.readouterr().err)
    assert line.startswith("caption: 3 done, 0 skipped, 1 failed (") and f"recorded in {out}" in line
    records = lines(out)
    assert [Path(r["clip"]).name for r in records] == ["a.mp4", "b.gif", "b2.mp4", "c"]
    assert set(records[2]) >= {"clip", "error"} and "b2.mp4 is not a readable video" in records[2]["error"]
    assert all("caption" in r for r in records[:2] + records[3:])
    assert main(["caption", str(folder), "--out", str(out), "--progress"]) == 1  # the failed clip is tried again
    err = capsys.readouterr().err
    assert summary(err).startswith("caption: 0 done, 3 skipped, 1 failed (")
    progress = [line for line in err.splitlines() if line.startswith("caption: ") and " done, " not in line]
    assert progress[0] == "caption: 0/1" and progress[1].startswith("caption: 1/1 ")
    assert "items/s, 1 failed (" in progress[1], progress


def test_other_settings_do_not_reuse_old_parts(tmp_path: Path, capsys) -> None:
    folder, out = clip_folder(tmp_path), tmp_path / "captions.jsonl"
    assert main(["caption", str(folder), "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["caption", str(folder), "--out", str(out), "--seed", "1"]) == 0
    assert summary(capsys.readouterr().err).startswith("caption: 3 done, 0 skipped, 0 failed (")
    assert len(list((tmp_path / ".captions.jsonl.parts").glob("*.json"))) == 3  # the old job's parts are gone


def test_two_workers_write_what_one_writes(tmp_path: Path, capsys) -> None:
    folder = clip_folder(tmp_path)
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    assert main(["caption", str(folder), "--out", str(one)]) == 0
    capsys.readouterr()
    assert main(["caption", str(folder), "--out", str(two), "--workers", "2"]) == 0
    assert two.read_text() == one.read_text()
    assert summary(capsys.readouterr().err).startswith("caption: 3 done, 0 skipped, 0 failed (")


def test_generate_out_dir_numbers_the_videos_records_each_and_resumes(tmp_path: Path, capsys) -> None:
    prompts, out = tmp_path / "prompts.txt", tmp_path / "videos"
    prompts.write_text("a red circle moving right\na blue square moving left\n", encoding="utf-8")
    assert main(["generate", "--prompts", str(prompts), "--out-dir", str(out), *SMALL]) == 0
    assert summary(capsys.readouterr().err).startswith("generate: 2 done, 0 skipped, 0 failed (")
    assert read_video(out / "0001.mp4").shape == (5, 32, 48, 3) and (out / "0002.mp4").is_file()

    with prompts.open("a", encoding="utf-8") as handle:
        handle.write("a cat playing the piano\n")
    assert main(["generate", "--prompts", str(prompts), "--out-dir", str(out), *SMALL]) == 1
    line = summary(capsys.readouterr().err)
    assert line.startswith("generate: 0 done, 2 skipped, 1 failed (") and str(out / "index.jsonl") in line
    index = lines(out / "index.jsonl")
    assert [(r["prompt"], r["file"], r["seed"], r["status"]) for r in index] == [
        ("a red circle moving right", "0001.mp4", 0, "done"),
        ("a blue square moving left", "0002.mp4", 0, "done"),
        ("a cat playing the piano", None, 0, "failed"),
    ]
    assert "names nothing" in index[2]["error"] and all(r["seconds"] >= 0 for r in index)
    assert not (out / "0003.mp4").exists()

    (out / "mine.mp4").write_bytes((out / "0002.mp4").read_bytes())  # not the batch's: never touched
    prompts.write_text("a red circle moving right\n", encoding="utf-8")
    assert main(["generate", "--prompts", str(prompts), "--out-dir", str(out), *SMALL]) == 0
    assert summary(capsys.readouterr().err).startswith("generate: 0 done, 1 skipped, 0 failed (")
    assert [r["file"] for r in lines(out / "index.jsonl")] == ["0001.mp4"]
    assert sorted(p.name for p in out.glob("*.mp4")) == ["0001.mp4", "mine.mp4"]  # 0002.mp4 went with its prompt


def test_a_second_job_on_the_same_output_is_refused_while_one_runs(tmp_path: Path, capsys) -> None:
    folder, out = clip_folder(tmp_path), tmp_path / "captions.jsonl"
    running = Parts(tmp_path / ".captions.jsonl.parts", flag="--out")
    running.prepare()
    with running.lock():
        assert main(["caption", str(folder), "--out", str(out)]) == 1
        err = capsys.readouterr().err
        assert f"--out: another batch job (process {os.getpid()}) is writing to {tmp_path}" in err
        assert "hint: wait for it to end, or write the output elsewhere" in err and not out.exists()
        prompts = tmp_path / "prompts.txt"
        prompts.write_text("a red circle\n", encoding="utf-8")
        (tmp_path / "videos" / ".sora-batch").mkdir(parents=True)
        with Parts(tmp_path / "videos" / ".sora-batch", flag="--out-dir").lock():
            assert main(["generate", "--prompts", str(prompts), "--out-dir", str(tmp_path / "videos")]) == 1
            assert "--out-dir: another batch job" in capsys.readouterr().err
    assert main(["caption", str(folder), "--out", str(out)]) == 0  # free again once it ended


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["generate", "a red circle", "-o", "{tmp}/x.mp4", "--out-dir", "{tmp}/d"], "-o and --out-dir both name"),
        (["generate", "a red circle"], "no output given"),
        (["generate", "a red circle", "-o", "{tmp}/x.mp4", "--workers", "2"], "--workers runs a batch"),
        (["generate", "a red circle", "--out-dir", "{tmp}/d", "--gif", "{tmp}/x.gif"], "--gif names one file"),
        (["generate", "a red circle", "--out-dir", "{tmp}/no/d"], "does not exist"),
        (["caption", "{tmp}/*.nothing", "--out", "{tmp}/c.jsonl"], "matches no file or folder"),
        (["caption", "{tmp}", "--out", "{tmp}/c.txt"], "unknown JSON Lines file format '.txt'"),
        (["caption", "{tmp}", "--out", "{tmp}/c.jsonl", "--workers", "0"], "--workers 0 must be at least 1"),
        (["summarize", "{tmp}", "--out", "{tmp}/c.jsonl", "--sheet", "{tmp}/k.png"], "--sheet names one file"),
        (["caption", "{tmp}/x.mp4", "--ray", "auto"], "--ray runs a batch, which --out asks for"),
        (["generate", "a red circle", "-o", "{tmp}/x.mp4", "--ray", "auto"], "--ray runs a batch"),
        (["caption", "{tmp}", "--out", "{tmp}/c.jsonl", "--ray", "head"], "--ray 'head' is not a cluster address"),
    ],
)
def test_errors_of_the_whole_job_are_immediate(tmp_path: Path, capsys, arguments: list[str], message: str) -> None:
    assert main([a.replace("{tmp}", str(tmp_path)) for a in arguments]) == 1
    err = capsys.readouterr().err
    assert message in err and "hint:" in err and "Traceback" not in err


def test_parts_are_keyed_and_unreadable_ones_are_run_again(tmp_path: Path) -> None:
    parts = Parts(tmp_path / ".work", flag="--out")
    parts.prepare()
    key = item_key({"clip": "a.mp4"}, {"seed": 0})
    assert key != item_key({"clip": "a.mp4"}, {"seed": 1}) and key == item_key({"clip": "a.mp4"}, {"seed": 0})
    parts.write(key, "done", {"caption": "x"})
    assert parts.finished(key) == {"caption": "x"}
    parts.write(key, "failed", {"error": "y"})
    assert parts.finished(key) is None
    parts.path(key).write_text("{not json")
    assert parts.finished(key) is None
    write_jsonl(tmp_path / "out.jsonl", [{"a": 1}, {"b": "é"}])
    assert lines(tmp_path / "out.jsonl") == [{"a": 1}, {"b": "é"}]


def many_clips(root: Path, count: int) -> Path:
    """``count`` small clips, alternately red and blue squares."""
    folder = root / "many"
    folder.mkdir()
    for number in range(count):
        write_video(square(RED if number % 2 else BLUE), folder / f"{number:03d}.mp4")
    return folder


def test_a_worker_killed_mid_batch_is_replaced_and_every_clip_is_done_once(
    tmp_path: Path, capsys, kill_mid_batch
) -> None:
    psutil = pytest.importorskip("psutil")
    folder, out = many_clips(tmp_path, 12), tmp_path / "captions.jsonl"
    parts = tmp_path / ".captions.jsonl.parts"

    def workers() -> list[int]:  # the pool's spawned processes (not multiprocessing's resource tracker)
        found = []
        for child in psutil.Process().children():
            with contextlib.suppress(psutil.Error):
                if any("spawn_main" in part for part in child.cmdline()):
                    found.append(child.pid)
        return found

    with kill_mid_batch(parts, workers) as killed:
        assert main(["caption", str(folder), "--out", str(out), "--workers", "2"]) == 0
    assert killed, "no worker process was found to kill"
    line = summary(capsys.readouterr().err)
    assert line.startswith("caption: 12 done, 0 skipped, 0 failed (") and "ran again after a worker died" in line
    records = lines(out)
    assert [r["clip"] for r in records] == [str(folder / f"{n:03d}.mp4") for n in range(12)]
    for number, record in enumerate(records):
        assert f"{'red' if number % 2 else 'blue'} square moving right" in record["caption"], record
    assert len(list(parts.glob("*.json"))) == 12


POISON = """
import os


def build(config):
    def process(item):
        if item == "poison":
            os.kill(os.getpid(), 9)  # as the kernel's out-of-memory killer would
        return {"echo": item}

    return process
"""


def test_an_item_that_kills_its_worker_every_time_is_failed_after_three_attempts(tmp_path: Path, monkeypatch) -> None:
    from sora_core.batch import MAX_ATTEMPTS, WORKER_DIED, LocalPool, run_batch

    (tmp_path / "poison_batch.py").write_text(POISON)
    monkeypatch.syspath_prepend(str(tmp_path))  # the spawned workers get this sys.path too
    import poison_batch

    items = ["a", "b", "poison", "c", "d"]
    keys = [item_key(item, {}) for item in items]
    parts = Parts(tmp_path / ".work", flag="--out")
    parts.prepare()
    pool = LocalPool(2)
    result = run_batch(items, keys, parts, poison_batch.build, None, executor=pool, show=False)
    assert (result.done, result.failed, result.retried) == (4, 1, 1)
    assert [r.get("echo") for r in result.records] == ["a", "b", None, "c", "d"]
    assert result.records[2]["status"] == "failed" and result.records[2]["error"].startswith(WORKER_DIED)
    assert f"({MAX_ATTEMPTS} attempts" in result.records[2]["error"] and result.records[2]["hint"]
    result = run_batch(items, keys, parts, poison_batch.build, None, executor=LocalPool(2), show=False)  # rerun: it
    assert (result.done, result.skipped, result.failed) == (0, 4, 1)


def test_ray_not_installed_is_a_config_error_naming_the_extra(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if it were not installed
    folder = clip_folder(tmp_path)
    assert main(["caption", str(folder), "--out", str(tmp_path / "c.jsonl"), "--ray", "local"]) == 1
    err = capsys.readouterr().err
    assert "--ray needs Ray" in err and "pip install 'sora-core[ray]'" in err and "Traceback" not in err


def test_the_batch_benchmark_runs_and_a_rerun_skips_every_clip(load_benchmark, capsys) -> None:
    pytest.importorskip("sora_synth", reason="the benchmark renders its clips with sora-synth")
    load_benchmark("bench_batch").main(["--clips", "3", "--skip-ray"])
    out = capsys.readouterr().out
    assert "| local pool | 2 |" in out and "| yes |" in out and "NO" not in out
    assert out.count("0 done, 3 skipped") == 2 and "FAIL" not in out
