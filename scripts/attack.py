"""Attack the `sora` command line with hostile inputs and count how many are handled cleanly.

Usage: python scripts/attack.py [--only CLASS] [--json]

Each case builds its hostile input in a scratch folder, runs one `sora` command in a fresh process and judges
the result. *Clean* means: exit status 1 with an ``error:`` line and a ``hint:`` line (or, where the case allows
it, exit status 0 with a ``warning:``), no traceback and no "unexpected", no output file or temporary file left
behind, the run stays under its memory budget, and nothing planted in the input ran. Classes are the issue's
numbering (docs/security.md). The registry server's cases live in registry/tests (in process, many more).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from imageio_ffmpeg import get_ffmpeg_exe
from PIL import Image

MEMORY_BUDGET_MB = 3000  # a refused input must not need more than this much resident memory
TIMEOUT_S = 180
SORA = [sys.executable, "-m", "sora_core.cli.main"]


@dataclass
class Case:
    cls: int
    name: str
    args: list[str]
    setup: Callable[[Path], None] = lambda _: None
    outputs: list[str] = field(default_factory=list)  # paths (relative to the scratch folder) that must not appear
    allow_warning: bool = False  # success with a "warning:" line also counts as clean
    marker: str | None = None  # a file a planted payload would create


@dataclass
class Verdict:
    case: Case
    clean: bool
    reason: str
    seconds: float
    peak_mb: float


def _run(case: Case, root: Path) -> Verdict:
    work = root / f"c{abs(hash(case.name)) % 10**8}"
    work.mkdir()
    case.setup(work)
    before = {p for p in work.rglob("*")}
    args = [a.replace("{W}", str(work)) for a in case.args]
    out, err = work.parent / f"{work.name}.out", work.parent / f"{work.name}.err"
    start = time.monotonic()
    peak_kb = 0
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen([*SORA, *args], cwd=work, stdout=stdout, stderr=stderr)
        deadline = start + TIMEOUT_S
        while proc.poll() is None:
            peak_kb = max(peak_kb, _high_water_kb(proc.pid))
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                break
            time.sleep(0.02)
    seconds = time.monotonic() - start
    code = proc.returncode
    peak_mb = peak_kb / 1024
    stderr_text = err.read_text(errors="replace")
    reason = _judge(case, work, before, code, stderr_text, seconds, peak_mb)
    return Verdict(case, reason == "", reason or "clean", seconds, peak_mb)


def _high_water_kb(pid: int) -> int:
    """The child's peak resident memory so far (VmHWM of its own image; ru_maxrss would count the fork)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _judge(case: Case, work: Path, before: set[Path], code: int, err: str, seconds: float, peak_mb: float) -> str:
    if seconds >= TIMEOUT_S:
        return f"timed out after {TIMEOUT_S} s"
    if "Traceback" in err or "unexpected" in err:
        return f"rc {code}: " + (err.strip().splitlines() or [""])[-1][:160]
    if case.marker and (work / case.marker).exists():
        return "a planted payload ran"
    if peak_mb > MEMORY_BUDGET_MB:
        return f"peak memory {peak_mb:.0f} MB over {MEMORY_BUDGET_MB} MB"
    left = [o for o in case.outputs if (work / o).exists()]
    temps = [p.name for p in set(work.rglob("*")) - before if ".tmp" in p.name or ".saving-" in p.name]
    if left or temps:
        return f"left behind {left + temps}"
    lines = [line for line in err.splitlines() if line.strip()]
    if code == 1 and lines and lines[0].startswith("error: ") and any(line.startswith("  hint: ") for line in lines):
        return ""
    if code == 0 and case.allow_warning and any(line.startswith("warning: ") for line in lines):
        return ""
    return f"rc {code}, stderr {err.strip()[:160]!r}"


# --- inputs ---------------------------------------------------------------------------------------------------------


def _weights(work: Path, **config_changes: object) -> None:
    from sora_core import registry
    from sora_core.safetensors_io import write_manifest

    folder = work / "w"
    registry.create("sora-seed:additive-attention", query_size=8, context_size=8).save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(config_changes)
    config = {k: v for k, v in config.items() if v is not None}
    (folder / "config.json").write_text(json.dumps(config))
    write_manifest(folder)


def _payload(work: Path) -> None:
    _weights(work, particle="payload:Evil", name=None)
    (work / "w" / "payload.py").write_text("open('PAYLOAD_RAN', 'w').close()\nclass Evil: pass\n")
    from sora_core.safetensors_io import write_manifest

    write_manifest(work / "w")


def _edit(work: Path, name: str, content: bytes, manifest: bool = True) -> None:
    _weights(work)
    (work / "w" / name).write_bytes(content)
    if manifest:
        from sora_core.safetensors_io import write_manifest

        write_manifest(work / "w")


def _link_out(work: Path) -> None:
    _weights(work)
    folder = work / "w"
    (folder / "model.safetensors").rename(work / "outside.safetensors")
    (folder / "model.safetensors").symlink_to(work / "outside.safetensors")


def _clip(work: Path, name: str = "clip.mp4") -> None:
    frames = np.zeros((9, 64, 64, 3), dtype=np.uint8)
    for t in range(9):
        frames[t, 20:40, 4 + 4 * t : 24 + 4 * t] = (220, 30, 30)
    _ffmpeg_from_frames(frames, work / name)


def _ffmpeg_from_frames(frames: np.ndarray, path: Path) -> None:
    _, h, w, _ = frames.shape
    command = [get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24"]
    command += ["-s", f"{w}x{h}", "-r", "8", "-i", "-", "-pix_fmt", "yuv420p", str(path)]
    subprocess.run(command, input=frames.tobytes(), check=True)


def _truncated(work: Path) -> None:
    _clip(work)
    data = (work / "clip.mp4").read_bytes()
    (work / "clip.mp4").write_bytes(data[: len(data) // 2])


def _huge_mp4(work: Path) -> None:
    command = [get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=blue:s=7680x4320:d=1"]
    command += ["-r", "30", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "51", str(work / "big.mp4")]
    subprocess.run(command, check=True)


def _many_frame_gif(work: Path) -> None:
    base = Image.new("P", (640, 480))
    frames = []
    for i in range(3000):
        frame = base.copy()
        frame.putpixel((i % 640, (i // 640) % 480), 1)
        frames.append(frame)
    frames[0].save(work / "many.gif", save_all=True, append_images=frames[1:], duration=20, loop=0)


def _png_folder(work: Path) -> None:
    (work / "frames").mkdir()
    Image.new("RGB", (20000, 20000)).save(work / "frames" / "0000.png", optimize=True)


def _write(name: str, content: bytes | str) -> Callable[[Path], None]:
    def setup(work: Path) -> None:
        data = content.encode() if isinstance(content, str) else content
        (work / name).write_bytes(data)

    return setup


def _safetensors_overlap(work: Path) -> None:
    header = {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}
    header["b"] = {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}
    raw = json.dumps(header).encode()
    (work / "in.safetensors").write_bytes(len(raw).to_bytes(8, "little") + raw + bytes(24))


def _wheel(work: Path, manifest: bytes | None = None) -> Path:
    from sora_registry.testing import ParticleSpec, plugin_wheel

    return plugin_wheel(work, "demo", [ParticleSpec("enc")], manifest=manifest)


def _wheel_variant(change: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def setup(work: Path) -> None:
        path = _wheel(work)
        path.write_bytes(change(path.read_bytes()))
        path.rename(work / "demo-1.0.0-py3-none-any.whl")

    return setup


def _bomb_wheel(work: Path) -> None:
    from sora_core.hostile_archives import deflate, entries_of, raw_zip, wheel_members

    members = wheel_members(_wheel(work))
    entries = entries_of(members)
    bomb = deflate(b"\0" * (64 * 2**20))
    entries[0].payload, entries[0].local, entries[0].central = bomb, {"size": 64 * 2**20}, {"size": 64 * 2**20}
    import zlib

    entries[0].local["crc"] = entries[0].central["crc"] = zlib.crc32(b"\0" * (64 * 2**20))
    entries[0].local["compressed_size"] = entries[0].central["compressed_size"] = len(bomb)
    (work / "demo-1.0.0-py3-none-any.whl").write_bytes(raw_zip(entries))


def _wrong_manifest_wheel(work: Path) -> None:
    manifest = {"format": 1, "distribution": "demo", "particles": {"enc": {"kind": 5, "inputs": []}}, "templates": 5}
    _wheel(work, json.dumps(manifest).encode())


SEED_INPUTS = ["--input", "text=randn:2,3,512", "--input", "video_features=randn:2,3,512"]
GEN = ["generate", "a red circle moving right", "--frames", "5", "--steps", "2", "--no-progress"]
BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(8)
)


def cases() -> list[Case]:
    w = "{W}/w"
    load = ["load", "sora-seed:additive-attention", "--weights", w]
    return [
        # 1: code from a weights folder
        Case(1, "config particle this:Nothing", load, lambda d: _weights(d, particle="this:Nothing", name=None)),
        Case(1, "payload.py beside the weights", load, _payload, marker="PAYLOAD_RAN"),
        Case(1, "config name os:system", load, lambda d: _weights(d, name="os:system", particle="os:system")),
        Case(1, "config name another particle", load, lambda d: _weights(d, name="sora-seed:lstm-text-encoder")),
        Case(1, "config name not a string", load, lambda d: _weights(d, name=["os", "system"])),
        # 11: weights edge cases
        Case(11, "config.json 200k deep", load, lambda d: _edit(d, "config.json", b"[" * 200_000 + b"]" * 200_000)),
        Case(
            11, "manifest.json 200k deep", load, lambda d: _edit(d, "manifest.json", b"{" * 1 + b"[" * 200_000, False)
        ),
        Case(11, "weights linked out of the folder", load, _link_out),
        Case(11, "pickle beside model.safetensors", load, lambda d: _edit(d, "pytorch_model.bin", pickle.dumps([1]))),
        Case(11, "pickle with a harmless name", load, lambda d: _edit(d, "notes.txt", pickle.dumps([1]))),
        Case(11, "config.json is not UTF-8", load, lambda d: _edit(d, "config.json", b"\xff\xfe{}")),
        Case(11, "config.json 20 MB", load, lambda d: _edit(d, "config.json", b" " * 20_000_000 + b"{}")),
        Case(11, "no config.json", ["load", "sora-seed:additive-attention", "--weights", "{W}"]),
        Case(11, "weights folder missing", ["load", "sora-seed:additive-attention", "--weights", "{W}/none"]),
        Case(
            11,
            "safetensors overlap as weights",
            ["load", "sora-seed:additive-attention", "--weights", "{W}/in.safetensors"],
            _safetensors_overlap,
        ),
        # 12: memory from small inputs
        Case(12, "GIF of 3000 frames", ["caption", "many.gif"], _many_frame_gif),
        Case(12, "MP4 of 8K frames", ["caption", "big.mp4"], _huge_mp4),
        Case(12, "PNG folder 20000x20000", ["caption", "frames"], _png_folder),
        Case(12, "generate --scale 1000", [*GEN, "-o", "a.mp4", "--scale", "1000"], outputs=["a.mp4"]),
        Case(
            12,
            "summarize --scale 100000",
            ["summarize", "clip.mp4", "--sheet", "s.png", "--scale", "100000"],
            _clip,
            outputs=["s.png"],
        ),
        Case(
            12,
            "generate 10000x10000",
            [*GEN, "-o", "a.mp4", "--height", "10000", "--width", "10000"],
            outputs=["a.mp4"],
        ),
        Case(12, "generate 100000 frames", [*GEN, "-o", "a.mp4", "--frames", "100001"], outputs=["a.mp4"]),
        # 13: unexpected exits
        Case(13, "randn:100000,100000,100000", ["run", "seed", "--input", "text=randn:100000,100000,100000"]),
        Case(13, "randn:-1,3,512", ["run", "seed", "--input", "text=randn:-1,3,512"]),
        Case(13, "randn:99999999999999999999", ["run", "seed", "--input", "text=randn:99999999999999999999"]),
        Case(13, "randn:junk", ["run", "seed", "--input", "text=randn:a,b"]),
        Case(
            13,
            "ragged JSON input",
            ["run", "seed", "--input", "text=[[1,2],[3]]", "--input", "video_features=randn:2,3,512"],
        ),
        Case(
            13,
            "JSON string for a tensor",
            ["run", "seed", "--input", 'text="hello"', "--input", "video_features=randn:2,3,512"],
        ),
        Case(
            13,
            "safetensors input overlapping",
            ["run", "seed", "--input", "text=in.safetensors", "--input", "video_features=randn:2,3,512"],
            _safetensors_overlap,
        ),
        Case(13, "--seed 2**70", ["run", "seed", *SEED_INPUTS, "--seed", str(2**70)]),
        Case(13, "--seed -5", ["run", "seed", *SEED_INPUTS, "--seed", "-5"]),
        Case(13, "--output into a directory", ["run", "seed", *SEED_INPUTS, "--output", "{W}"]),
        Case(13, "--output into a missing folder", ["run", "seed", *SEED_INPUTS, "--output", "none/x.safetensors"]),
        Case(
            13,
            "--output unwritable (/proc)",
            ["run", "seed", *SEED_INPUTS, "--output", "/proc/x.safetensors"],
        ),
        Case(13, "--trace-out into a directory", ["run", "seed", *SEED_INPUTS, "--trace-out", "{W}"]),
        Case(13, "graph -o missing folder", ["graph", "seed", "-o", "none/g.html", "--format", "html"]),
        Case(13, "generate -o a directory", [*GEN, "-o", "{W}"]),
        Case(13, "generate --gif missing folder", [*GEN, "-o", "a.mp4", "--gif", "none/a.gif"], outputs=["a.mp4"]),
        Case(
            13,
            "--contact-sheet missing folder",
            [*GEN, "-o", "a.mp4", "--contact-sheet", "none/s.png"],
            outputs=["a.mp4"],
        ),
        Case(13, "summarize --sheet missing folder", ["summarize", "clip.mp4", "--sheet", "none/s.png"], _clip),
        Case(13, "--fps nan", [*GEN, "-o", "a.mp4", "--fps", "nan"], outputs=["a.mp4"]),
        Case(
            13,
            "load --set attention_size=1e12",
            ["load", "sora-seed:additive-attention", "--set", "query_size=1000000000000"],
        ),
        Case(
            13,
            "load --set query_size=1e12 (float)",
            ["load", "sora-seed:additive-attention", "--set", "query_size=1e12"],
        ),
        Case(
            13,
            "unknown --device",
            ["load", "sora-seed:additive-attention", "--device", "nonsense", "--weights", w],
            _weights,
        ),
        Case(13, "--device cuda without CUDA", ["load", "sora-dit:dit-denoiser", "--device", "cuda:7"]),
        Case(
            13,
            "spec hidden_size 1e11",
            ["run", "spec.yaml"],
            _write(
                "spec.yaml",
                (
                    "nodes:\n  g:\n    particle: sora-seed:lstm-video-generator\n"
                    "    config: {hidden_size: 100000000000}\n"
                ),
            ),
        ),
        Case(
            13,
            "spec device nonsense",
            ["run", "spec.yaml"],
            _write("spec.yaml", ("nodes:\n  g:\n    particle: sora-seed:lstm-video-generator\n    device: nonsense\n")),
        ),
        Case(13, "spec not UTF-8", ["run", "spec.yaml"], _write("spec.yaml", b"nodes:\n  \xff\xfe: {}\n")),
        Case(13, "spec billion laughs", ["run", "spec.yaml"], _write("spec.yaml", BILLION_LAUGHS)),
        Case(13, "spec nested 100k deep", ["run", "spec.yaml"], _write("spec.yaml", "[" * 100_000)),
        Case(13, "spec a list", ["run", "spec.yaml"], _write("spec.yaml", "- 1\n- 2\n")),
        Case(13, "spec JSON 100k deep", ["run", "spec.json"], _write("spec.json", "[" * 100_000 + "]" * 100_000)),
        Case(13, "--frames 0", [*GEN, "-o", "a.mp4", "--frames", "0"], outputs=["a.mp4"]),
        Case(13, "--steps -1", [*GEN, "-o", "a.mp4", "--steps", "-1"], outputs=["a.mp4"]),
        Case(13, "--input without =", ["run", "seed", "--input", "text"]),
        Case(13, "--input unknown port", ["run", "seed", *SEED_INPUTS, "--input", "nope=randn:1"]),
        Case(13, "--input missing file", ["run", "seed", "--input", "text=none.safetensors"]),
        Case(13, "--locked lock not JSON", ["run", "seed", *SEED_INPUTS, "--locked", "l.json"], _write("l.json", "{")),
        Case(
            13,
            "--locked lock 100k deep",
            ["run", "seed", *SEED_INPUTS, "--locked", "l.json"],
            _write("l.json", "[" * 100_000),
        ),
        Case(13, "--locked lock a list", ["run", "seed", *SEED_INPUTS, "--locked", "l.json"], _write("l.json", "[]")),
        Case(13, "graph --trace not a trace", ["graph", "seed", "--trace", "t.json"], _write("t.json", '{"a": [1]}')),
        Case(13, "spec unknown particle", ["run", "spec.yaml"], _write("spec.yaml", "nodes:\n  a: {particle: nope}\n")),
        Case(13, "spec node a number", ["run", "spec.yaml"], _write("spec.yaml", "nodes:\n  a: 5\n")),
        Case(
            13,
            "spec weights path traversal",
            ["run", "spec.yaml"],
            _write("spec.yaml", ("nodes:\n  a: {particle: sora-seed:additive-attention, weights: ../../../../etc}\n")),
        ),
        Case(13, "--swap unknown particle", ["run", "seed", *SEED_INPUTS, "--swap", "attention=nope"]),
        Case(13, "--set a missing field", ["run", "seed", *SEED_INPUTS, "--set", "attention.nope=1"]),
        Case(
            13,
            "--set 1000 levels deep",
            ["load", "sora-seed:additive-attention", "--set", "query_size=" + "[" * 1000 + "]" * 1000],
        ),
        Case(13, "info unknown particle", ["info", "nope\x1b[2J"]),
        Case(13, "search a non-http registry", ["search", "x", "--registry", "file:///etc/passwd"]),
        # 3-5: archives given to `sora check`
        Case(
            3,
            "wheel with junk appended",
            ["check", "demo-1.0.0-py3-none-any.whl", "--no-conformance"],
            _wheel_variant(lambda data: data + b"junk" * 100),
        ),
        Case(
            3,
            "wheel with a zip prepended",
            ["check", "demo-1.0.0-py3-none-any.whl", "--no-conformance"],
            _wheel_variant(lambda data: data + data),
        ),
        Case(
            3,
            "wheel in a multipart body",
            ["check", "demo-1.0.0-py3-none-any.whl", "--no-conformance"],
            _wheel_variant(lambda data: b"--b\r\nContent-Type: x\r\n\r\n" + data + b"\r\n--b--\r\n"),
        ),
        Case(
            4,
            "wheel with a 64 MiB deflate bomb",
            ["check", "demo-1.0.0-py3-none-any.whl", "--no-conformance"],
            _bomb_wheel,
        ),
        Case(
            5,
            "truncated wheel",
            ["check", "demo-1.0.0-py3-none-any.whl", "--no-conformance"],
            _wheel_variant(lambda data: data[: len(data) // 2]),
        ),
        Case(
            5,
            "wheel with flipped bytes",
            ["check", "demo-1.0.0-py3-none-any.whl", "--no-conformance"],
            _wheel_variant(lambda data: data[:200] + bytes(b ^ 0xFF for b in data[200:260]) + data[260:]),
        ),
        Case(
            6,
            "manifest fields of the wrong type",
            ["check", "demo-1.0.0-py3-none-any.whl", "--no-conformance"],
            _wrong_manifest_wheel,
        ),
        # 14: silently accepted
        Case(14, "truncated MP4 captioned", ["caption", "clip.mp4"], _truncated, allow_warning=True),
        Case(14, "empty MP4", ["caption", "clip.mp4"], _write("clip.mp4", b"")),
        Case(14, "random bytes as MP4", ["caption", "clip.mp4"], _write("clip.mp4", os.urandom(4096))),
        Case(14, "load --dtype int8 (no weights)", ["load", "sora-seed:additive-attention", "--dtype", "int8"]),
        Case(14, "load --device nonsense (no weights)", ["load", "sora-seed:additive-attention", "--device", "bad"]),
        Case(14, "--guidance inf", [*GEN, "-o", "a.mp4", "--guidance", "inf"], outputs=["a.mp4"]),
        Case(14, "--guidance nan", [*GEN, "-o", "a.mp4", "--guidance", "nan"], outputs=["a.mp4"]),
        Case(14, "--guidance -3", [*GEN, "-o", "a.mp4", "--guidance", "-3"], outputs=["a.mp4"]),
        Case(14, "--fps 0", [*GEN, "-o", "a.mp4", "--fps", "0"], outputs=["a.mp4"]),
        Case(14, "--fps inf", [*GEN, "-o", "a.mp4", "--fps", "inf"], outputs=["a.mp4"]),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", type=int, help="run one class only")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    selected = [c for c in cases() if args.only is None or c.cls == args.only]
    root = Path(tempfile.mkdtemp(prefix="sora-attack-"))
    verdicts = []
    try:
        for case in selected:
            verdict = _run(case, root)
            verdicts.append(verdict)
            mark = "ok  " if verdict.clean else "FAIL"
            print(
                f"{mark} [{case.cls:>2}] {case.name:<40} {verdict.seconds:6.1f}s {verdict.peak_mb:6.0f}MB "
                f"{'' if verdict.clean else verdict.reason}",
                flush=True,
            )
    finally:
        for path in root.rglob("*"):
            if path.is_dir():
                path.chmod(0o700)
        shutil.rmtree(root, ignore_errors=True)
    clean = sum(v.clean for v in verdicts)
    print(f"\n{clean} of {len(verdicts)} hostile inputs handled cleanly")
    if args.json:
        print(
            json.dumps(
                [{"class": v.case.cls, "case": v.case.name, "clean": v.clean, "reason": v.reason} for v in verdicts],
                indent=2,
            )
        )
    return 0 if clean == len(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
