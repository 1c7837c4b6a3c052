"""The command line's batch jobs: ``sora generate --prompts FILE --out-dir DIR`` and ``sora caption|ask|summarize
DIR_OR_GLOB --out FILE.jsonl``, resumable, on a local worker pool (see :mod:`sora_core.batch`) or a Ray cluster
(``--ray``, :mod:`sora_core.batch_ray`).

What is here is each command's own part: which items a job has and how each is keyed, how a worker builds its
pipeline once and runs one item, and the records written. The builders are module-level functions over plain
data, so that spawned worker processes can be given them.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import hashlib
import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sora_core.errors import ConfigError

if TYPE_CHECKING:
    from sora_core.batch import BatchResult, Executor, Processor

#: Files of a directory taken as clips (folders of ``.png`` frames are clips too).
CLIP_SUFFIXES = (".mp4", ".gif")
#: The hidden work folder of ``--out-dir``, holding one part per prompt.
WORK_FOLDER = ".sora-batch"

#: What each understanding command runs: its default template, its extra inputs and the outputs it needs.
UNDERSTANDING = {
    "caption": ("v2t", ("caption",)),
    "ask": ("vqa", ("answer",)),
    "summarize": ("summarize", ("frames", "summary")),
}


def check_workers(args: argparse.Namespace) -> int:
    """``--workers`` as a count (1 when not given); a ``ConfigError`` below 1. ``--ray ADDRESS`` is checked too."""
    if args.ray is not None:
        from sora_core.batch_ray import check_address

        check_address(args.ray)
    if args.workers is None:
        return 1
    if args.workers < 1:
        raise ConfigError(f"--workers {args.workers} must be at least 1", "use --workers 1 to run in this process")
    return args.workers


def refuse_workers(args: argparse.Namespace, batch_flag: str) -> None:
    """A ``ConfigError`` for ``--workers`` or ``--ray`` given to a single run (``batch_flag`` makes a batch)."""
    for flag, value in (("--workers", args.workers), ("--ray", args.ray)):
        if value is not None:
            raise ConfigError(f"{flag} runs a batch, which {batch_flag} asks for", f"add {batch_flag}, or drop {flag}")


def executor_of(args: argparse.Namespace) -> Executor | None:
    """Where the batch runs: on Ray for ``--ray`` (``--workers`` actors), else ``None`` (here, or a local pool)."""
    if args.ray is None:
        return None
    from sora_core.batch_ray import RayExecutor, check_address

    return RayExecutor(check_address(args.ray), args.workers)


def _run(args: argparse.Namespace, *arguments: Any, **options: Any) -> BatchResult:
    """:func:`sora_core.batch.run_batch` on the executor ``--ray`` asks for (left again at the end)."""
    from sora_core.batch import run_batch

    executor = executor_of(args)
    try:
        return run_batch(*arguments, workers=check_workers(args), executor=executor, show=args.progress, **options)
    finally:
        if executor is not None:
            executor.shutdown()


# --- clips -----------------------------------------------------------------------------------------------


def clips_of(pattern: str, out: Path) -> list[str]:
    """The clips a batch reads: a directory's ``.mp4``/``.gif`` files and folders of ``.png`` frames (hidden
    entries left out), or the matches of a glob pattern, each sorted by name; ``out`` itself is never a clip."""
    if os.path.isdir(pattern):
        found = []
        for entry in sorted(os.scandir(pattern), key=lambda e: e.name):
            if entry.name.startswith("."):
                continue
            clip = entry.is_file() and Path(entry.name).suffix.lower() in CLIP_SUFFIXES
            frames = entry.is_dir() and any(name.lower().endswith(".png") for name in os.listdir(entry.path))
            if clip or frames:
                found.append(os.path.join(pattern, entry.name))
        where = f"the folder {pattern} holds no .mp4 or .gif clip and no folder of .png frames"
    else:
        found = sorted(glob.glob(pattern))
        where = f"{pattern} matches no file or folder"
    own = os.path.abspath(out)
    found = [path for path in found if os.path.abspath(path) != own]
    if not found:
        raise ConfigError(where, "name a folder of clips, or a pattern such as 'clips/*.mp4' (quoted)")
    return found


def _stamp(path: str) -> Any:
    """What identifies a clip's content cheaply: size and modification time (of every file, for a folder)."""
    try:
        if os.path.isdir(path):
            return sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in os.scandir(path) if e.is_file())
        status = os.stat(path)
        return [status.st_size, status.st_mtime_ns]
    except OSError:
        return None  # an unreadable clip: it fails when it is read, and is retried on the next run


def _template_identity(template: str) -> Any:
    """A template name, or a spec file with the digest of its text (an edited spec is another job)."""
    try:
        if os.path.isfile(template):
            return [template, hashlib.sha256(Path(template).read_bytes()).hexdigest()]
    except OSError:
        pass
    return template


def build_understander(config: dict[str, Any]) -> Processor:
    """A worker's processor for caption, ask or summarize: the pipeline built once, then one clip per call."""
    from sora_core import api

    default, wanted = UNDERSTANDING[config["command"]]
    inputs = {"question": [config["question"]]} if config["command"] == "ask" else {}
    understander = api.Understander(
        tuple(inputs),
        wanted,
        template=config["template"],
        default=default,
        seed=config["seed"],
        swaps=config["swaps"],
        settings=config["settings"],
        device=config.get("device"),
        progress=False,
        strict=config["strict"],
        _names=api._CLI,
    )

    def process(clip: str) -> dict[str, Any]:
        outputs, records = understander.run(clip, inputs)
        if config["command"] == "caption":
            fields: dict[str, Any] = {"caption": str(outputs["caption"][0])}
        elif config["command"] == "ask":
            fields = {"question": config["question"], "answer": str(outputs["answer"][0])}
        else:
            summary = api.summary_of(outputs)
            fields = {"summary": summary.text, "key_frames": summary.key_frames}
        warnings = list(dict.fromkeys(str(record.message) for record in records))
        return {**fields, **({"warnings": warnings} if warnings else {})}

    return process


def run_clip_batch(args: argparse.Namespace) -> int:
    """``sora caption|ask|summarize DIR_OR_GLOB --out FILE.jsonl``: one JSON line per clip, resumable."""
    from sora_core.batch import Parts, item_key, write_jsonl
    from sora_core.cli.paths import check_output_path

    out = check_output_path(args.out, "--out", (".jsonl",), what="JSON Lines file")
    check_workers(args)
    clips = clips_of(args.video, out)
    config = {
        "command": args.command,
        "template": args.template,
        "seed": args.seed,
        "swaps": list(args.swaps),
        "settings": list(args.settings),
        "strict": args.strict,
        "question": getattr(args, "question", None),
        "device": args.device,
    }
    settings = {**config, "template": _template_identity(args.template)}
    keys = [item_key({"clip": clip, "stamp": _stamp(clip)}, settings) for clip in clips]
    parts = Parts(out.with_name(f".{out.name}.parts"), flag="--out")
    parts.prepare()
    with parts.lock():
        result = _run(args, clips, keys, parts, build_understander, config, description=args.command)
        lines = []
        for clip, record in zip(clips, result.records, strict=True):
            if record["status"] == "done":
                lines.append({"clip": clip, **{k: v for k, v in record.items() if k not in ("status", "seconds")}})
            else:
                lines.append({"clip": clip, "error": record["error"], **_hint(record)})
        write_jsonl(out, lines)
    return _finish(args.command, result, out)


def _hint(record: dict[str, Any]) -> dict[str, Any]:
    return {"hint": record["hint"]} if record.get("hint") else {}


def _finish(name: str, result: BatchResult, errors_in: Path) -> int:
    """Print each warning once and the summary line (stderr); exit status 0 when every item is done, else 1."""
    from sora_core.batch import summary_line
    from sora_core.cli.output import warn

    for message in dict.fromkeys(m for record in result.records for m in record.get("warnings", ())):
        warn(message)
    sys.stderr.write(summary_line(name, result, errors_in) + "\n")
    return 0 if result.ok else 1


# --- prompts ---------------------------------------------------------------------------------------------


def build_generator(config: dict[str, Any]) -> Processor:
    """A worker's processor for ``generate --out-dir``: the pipeline built once, then one ``(file, prompt)`` per
    call, the video written atomically to the file (and removed again when that prompt fails)."""
    from sora_core import api
    from sora_core.cli.generate_command import _check_scale
    from sora_core.errors import SoraError

    generator = api.VideoGenerator(**config["generator"], progress=False, _names=api._CLI)
    sizes = SimpleNamespace(scale=config["scale"], contact_sheet=None)
    if generator.size is not None:
        _check_scale(sizes, generator.size)  # the asked sizes, before the first prompt
    folder = Path(config["out_dir"])

    def process(item: list[Any]) -> dict[str, Any]:
        name, prompt = item
        target = folder / name
        extras = target.with_name(target.stem + ".extras.safetensors")
        try:
            video, records = generator._make(prompt)
            _check_scale(sizes, video.shape)
            video._save(target, fps=config["fps"], scale=config["scale"], names=api._CLI)
            if generator.extra_outputs:
                api._write_outputs(video.outputs, extras)
        except SoraError:
            target.unlink(missing_ok=True)  # no stale video of another run under this name
            extras.unlink(missing_ok=True)
            raise
        fields: dict[str, Any] = {}
        if video.rewrite and video.rewrite.get("changed"):
            fields["rewritten"] = video.rewrite["rewritten"]
        warnings = list(dict.fromkeys(str(record.message) for record in records))
        return {**fields, **({"warnings": warnings} if warnings else {})}

    return process


def check_out_dir(name: str) -> Path:
    """``--out-dir DIR``: created when missing (its parent must exist), refused when it is not a writable folder."""
    from sora_core.cli.paths import check_output_path

    folder = Path(name)
    if not name.strip():
        raise ConfigError("--out-dir is empty", "give --out-dir a folder name")
    if os.path.lexists(folder) and not folder.is_dir():
        raise ConfigError(f"--out-dir {name}: exists and is not a directory", "name a new folder, or an existing one")
    if not folder.exists():
        if not folder.parent.is_dir():
            raise ConfigError(f"--out-dir {name}: {folder.parent} does not exist", f"create {folder.parent} first")
        try:
            folder.mkdir()
        except OSError as exc:
            raise ConfigError(f"--out-dir {name}: cannot create it: {exc.strerror or exc}", "write elsewhere") from None
    check_output_path(folder / "index.jsonl", "--out-dir", (".jsonl",))
    return folder


def run_generate_batch(args: argparse.Namespace, prompts: list[str]) -> int:
    """``sora generate --prompts FILE --out-dir DIR``: ``DIR/0001.mp4``, ... and ``DIR/index.jsonl``, resumable."""
    from sora_core.batch import Parts, item_key, write_jsonl
    from sora_core.cli.generate_command import FLAG_FIELDS
    from sora_core.video_io import check_fps

    for flag, value in (("--gif", args.gif), ("--contact-sheet", args.contact_sheet), ("--extras", args.extras)):
        if value is not None:
            raise ConfigError(
                f"{flag} names one file, and --out-dir writes many",
                f"drop {flag} (with --out-dir each prompt's video is DIR/NNNN.mp4)",
            )
    if args.scale < 1:
        raise ConfigError(f"--scale {args.scale} must be at least 1", "use --scale 4 to enlarge a 64x64 video")
    check_fps(args.fps, flag="--fps")
    check_workers(args)
    folder = check_out_dir(args.out_dir)
    generator = {
        "template": None if args.model else args.template,
        "model": args.model,
        **{flag: getattr(args, flag) for flag in FLAG_FIELDS},
        "seed": args.seed,
        "fps": args.fps,
        "device": args.device,
        "dtype": args.dtype,
        "swaps": list(args.swaps),
        "settings": list(args.settings),
        "strict": args.strict,
    }
    config = {"generator": generator, "out_dir": str(folder), "fps": args.fps, "scale": args.scale}
    settings = {**generator, "template": _template_identity(generator["template"] or ""), "scale": args.scale}
    digits = max(4, len(str(len(prompts))))
    items = [[f"{number:0{digits}d}.mp4", prompt] for number, prompt in enumerate(prompts, start=1)]
    keys = [item_key(item, settings) for item in items]
    parts = Parts(folder / WORK_FOLDER, flag="--out-dir")
    parts.prepare()
    target = folder / "index.jsonl"
    with parts.lock():
        result = _run(
            args,
            items,
            keys,
            parts,
            build_generator,
            config,
            description="generate",
            reuse=lambda index, record: (folder / items[index][0]).is_file(),
        )
        index = []
        for (name, prompt), record in zip(items, result.records, strict=True):
            line = {"prompt": prompt, "file": name if record["status"] == "done" else None, "seed": args.seed}
            line.update(status=record["status"], seconds=record["seconds"])
            line.update({k: v for k, v in record.items() if k not in line})
            index.append(line)
        made_before = _files_indexed(target)
        write_jsonl(target, index)
        _remove_stale(folder, made_before - {line["file"] for line in index})
    return _finish("generate", result, target)


def _files_indexed(index: Path) -> set[str]:
    """The video files an earlier run's ``index.jsonl`` lists (none when it is missing or unreadable)."""
    try:
        text = index.read_text(encoding="utf-8")
    except OSError:
        return set()
    files = set()
    for line in text.splitlines():
        with contextlib.suppress(ValueError, AttributeError):
            name = json.loads(line).get("file")
            if isinstance(name, str) and name == Path(name).name and name.endswith(".mp4"):
                files.add(name)
    return files


def _remove_stale(folder: Path, names: set[str]) -> None:
    """Remove videos an earlier run of this out-dir made that the new index no longer lists (a longer prompt
    list before, or a prompt that now fails): what the folder holds is what its index says."""
    for name in names:
        (folder / name).unlink(missing_ok=True)
