"""``sora generate PROMPT... -o out.mp4``: the text-to-video pipeline from the command line.

An argument parser over :mod:`sora_core.api` (``sora_core.generate``): the same options build the same
pipeline, and the same seed makes the same video. What is left here is the command line's own: reading
``--prompts FILE``, numbering the files of several prompts, checking every file before the run, writing
them, and printing warnings and a summary on stderr.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from sora_core.api import GENERATE_OPTIONS
from sora_core.cli.paths import check_output_path
from sora_core.cli.pipeline_commands import SWAP_HELP
from sora_core.errors import ConfigError
from sora_core.text import printable

#: Which node of a text-to-video template each convenience flag configures (``--set`` reaches any field).
FLAG_FIELDS = GENERATE_OPTIONS

#: Largest ``--prompts`` file read (a prompt is a line of text: a megabyte is thousands of them).
MAX_PROMPTS_FILE_BYTES = 1 << 20


def add_commands(commands: Any) -> None:
    parser = commands.add_parser(
        "generate",
        help="generate a video from a prompt (the t2v pipeline)",
        description="Generate one video per prompt. With several prompts (or --prompts FILE holding several), "
        "the files are numbered: -o out.mp4 writes out-1.mp4, out-2.mp4, ...; each prompt runs with the same --seed. "
        "With --out-dir DIR instead, prompt i is written to DIR/000i.mp4 as soon as it is made, with a line in "
        "DIR/index.jsonl; a prompt that fails is recorded there, and a rerun skips the prompts already done.",
    )
    parser.add_argument("prompts", nargs="*", metavar="PROMPT", help="what the video should show (one or more)")
    parser.add_argument(
        "--prompts",
        dest="prompts_file",
        metavar="FILE",
        help="read the prompts from FILE, one a line (blank lines and lines starting with # are skipped; - is stdin)",
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="the video to write: .mp4 or .gif")
    parser.add_argument(
        "--out-dir",
        metavar="DIR",
        help="run a resumable batch instead of -o: DIR/0001.mp4, DIR/0002.mp4, ... and DIR/index.jsonl",
    )
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="with --out-dir: run on N local processes, each building the pipeline once (default 1: in this process)",
    )
    parser.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="with --out-dir: run the batch on a Ray cluster (auto: the running one; local: a Ray started here; "
        "HOST:PORT: its head), --workers actors (default: one per CPU), each building the pipeline once; "
        "needs pip install 'sora-core[ray]'",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--template", default="t2v", help="the text-to-video template or spec file (default t2v)")
    source.add_argument(
        "--fast",
        action="store_const",
        const="t2v-fast",
        dest="template",
        help="the t2v-fast template: t2v with the sampling settings `sora tune` found, about a fifth of the "
        "seconds per video at nearly the same quality per attribute (docs/tuning.md)",
    )
    source.add_argument(
        "--model",
        metavar="PATH",
        help="run a model folder instead (a diffusers Wan, CogVideoX or LTX-Video folder, or a Hugging Face cache "
        "snapshot of one), read by an installed importer",
    )
    parser.add_argument("--device", help="run the pipeline's nodes on this device (cpu, cuda, cuda:1, mps)")
    parser.add_argument(
        "--dtype",
        choices=("float32", "float16", "bfloat16"),
        help="compute dtype of the text encoder and denoiser (the VAE stays float32, as its authors advise)",
    )
    parser.add_argument("--frames", type=int, help="number of frames (the VAE needs 1 + 4k with the default)")
    parser.add_argument("--height", type=int, help="frame height in pixels")
    parser.add_argument("--width", type=int, help="frame width in pixels")
    parser.add_argument("--steps", type=int, help="sampling steps")
    parser.add_argument("--guidance", type=float, help="classifier-free guidance scale (1 turns it off)")
    parser.add_argument(
        "--candidates", type=int, help="videos sampled per prompt; the scorer keeps the best (1: no reranking)"
    )
    parser.add_argument("--negative-prompt", help="the unconditional prompt (default: the empty prompt)")
    parser.add_argument(
        "--no-rewrite",
        dest="rewrite",
        action="store_const",
        const=False,
        default=None,
        help="give the prompt to the generator as written (the rewriter maps it onto the words it was trained on)",
    )
    parser.add_argument(
        "--allow-unknown",
        action="store_const",
        const=True,
        default=None,
        help="generate even when the prompt names nothing the weights know (otherwise: an error, exit 1)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the run (default 0): same seed, same video")
    parser.add_argument("--fps", type=float, default=8.0, help="frames per second of the written video (default 8)")
    parser.add_argument("--scale", type=int, default=1, help="enlarge each pixel to SCALE x SCALE in the files")
    parser.add_argument("--gif", metavar="FILE", help="also write an animated GIF")
    parser.add_argument("--contact-sheet", metavar="FILE", help="also write every frame tiled into one PNG")
    parser.add_argument(
        "--extras",
        metavar="FILE",
        help="where a template's outputs besides 'video' are kept, as .safetensors (text in its metadata); "
        "default: OUTPUT's name with .extras.safetensors, written only when the template has such outputs",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="make every warning an error (exit 1, nothing written): a size or a prompt the weights were not "
        "trained for",
    )
    parser.add_argument("--swap", dest="swaps", action="append", default=[], metavar="NODE=PARTICLE", help=SWAP_HELP)
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="NODE.FIELD=VALUE",
        help="change a node's config, e.g. --set sampler.guidance_scale=5",
    )
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help="show progress bars")
    parser.set_defaults(run=run_generate)


def run_generate(args: argparse.Namespace) -> int:
    from sora_core import api
    from sora_core.cli import batch_commands
    from sora_core.cli.output import warn
    from sora_core.video_io import VIDEO_SUFFIXES, check_fps

    if args.output is not None and args.out_dir is not None:
        raise ConfigError(
            "-o and --out-dir both name where the videos go",
            "give -o FILE for numbered files written together, or --out-dir DIR for a resumable batch",
        )
    if args.out_dir is not None:
        return batch_commands.run_generate_batch(args, _prompts(args))
    if args.output is None:
        raise ConfigError("no output given", "add -o FILE.mp4, or --out-dir DIR for a resumable batch of prompts")
    batch_commands.refuse_workers(args, "--out-dir")
    prompts = _prompts(args)
    numbered = len(prompts) > 1
    files = [_files(args, index + 1 if numbered else None, VIDEO_SUFFIXES) for index in range(len(prompts))]
    _check_distinct(files)
    if args.scale < 1:
        raise ConfigError(f"--scale {args.scale} must be at least 1", "use --scale 4 to enlarge a 64x64 video")
    check_fps(args.fps, flag="--fps")
    started = time.perf_counter()
    generator = api.VideoGenerator(
        template=None if args.model else args.template,
        model=args.model,
        **{flag: getattr(args, flag) for flag in FLAG_FIELDS},
        seed=args.seed,
        fps=args.fps,
        device=args.device,
        dtype=args.dtype,
        swaps=args.swaps,
        settings=args.settings,
        progress=args.progress,
        strict=args.strict,
        _names=api._CLI,
    )
    if args.extras is not None and not generator.extra_outputs:
        raise ConfigError(
            f"--extras {args.extras}: pipeline {generator.pipeline.name!r} has no outputs besides 'video'",
            "drop --extras, or use a template that names more outputs",
        )
    if generator.extra_outputs:  # kept beside each video: checked now, before the run
        for entry in files:
            entry["extras"] = check_output_path(entry["extras"], "--extras", (".safetensors",), what="tensor file")
        _check_distinct(files)
    if generator.size is not None:
        _check_scale(args, generator.size)  # the asked sizes, before the run
    warned: set[str] = set()
    videos = []
    for prompt in prompts:
        video, _ = generator._make(prompt)  # under --strict a warning is an error here, before a file is written
        if video.rewrite and video.rewrite.get("changed"):
            sys.stderr.write(f"rewrite: {printable(repr(prompt))} -> {printable(repr(video.rewrite['rewritten']))}\n")
        for message in video.warnings:
            if message not in warned:
                warned.add(message)
                warn(message)
        _check_scale(args, video.shape)  # the made sizes, before anything is written
        videos.append(video)
        # several prompts: every video is made before any is written, so a failure leaves no partial set
    for video, entry in zip(videos, files, strict=True):
        written = [video._save(entry["video"], fps=args.fps, scale=args.scale, names=api._CLI)]
        if args.gif:
            written.append(video._save(entry["gif"], fps=args.fps, scale=args.scale, names=api._CLI))
        if args.contact_sheet:
            written.append(video._save_contact_sheet(entry["sheet"], scale=args.scale, columns=None, names=api._CLI))
        if generator.extra_outputs:
            written.append(api._write_outputs(video.outputs, entry["extras"]))
        count, height, width = video.shape
        sys.stderr.write(
            f"{', '.join(str(p) for p in written)}: {count} frames of {width * args.scale}x{height * args.scale} "
            f"from {video.prompt!r} (seed {args.seed}, {time.perf_counter() - started:.1f} s)\n"
        )
    return 0


def _prompts(args: argparse.Namespace) -> list[str]:
    """The prompts, from the arguments or ``--prompts FILE`` (not both), each checked before anything is built."""
    from sora_core.api import _CLI, check_prompt

    if args.prompts_file is not None:
        if args.prompts:
            raise ConfigError(
                "prompts given both as arguments and with --prompts", "put them all in the file, or pass no --prompts"
            )
        return prompts_from_file(args.prompts_file)
    if not args.prompts:
        raise ConfigError("no prompt given", 'describe the video, e.g. sora generate "a red circle moving right"')
    return [check_prompt(prompt, _CLI) for prompt in args.prompts]


def prompts_from_file(name: str) -> list[str]:
    """The prompts of ``--prompts FILE`` (``-``: standard input): one a line, blank lines and ``#`` comments
    skipped; a missing, unreadable, oversized, non-UTF-8 or empty file is a ``ConfigError`` naming it."""
    lines = _read_prompts_file(name)
    prompts = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not prompts:
        raise ConfigError(f"--prompts {name} holds no prompt", "write one prompt a line")
    return prompts


def _read_prompts_file(name: str) -> list[str]:
    hint = "pass a UTF-8 text file with one prompt a line"
    try:
        if name == "-":
            data = sys.stdin.buffer.read(MAX_PROMPTS_FILE_BYTES + 1)
        else:
            path = Path(name)
            if not path.is_file():
                state = "does not exist" if not os.path.lexists(path) else "is not a regular file"
                raise ConfigError(f"--prompts {name} {state}", hint)
            with path.open("rb") as handle:
                data = handle.read(MAX_PROMPTS_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"--prompts {name}: cannot read it: {exc.strerror or exc}", hint) from None
    if len(data) > MAX_PROMPTS_FILE_BYTES:
        raise ConfigError(f"--prompts {name} is over {MAX_PROMPTS_FILE_BYTES:,} bytes", "split it into smaller files")
    try:
        return data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise ConfigError(f"--prompts {name} is not UTF-8 text (byte {exc.start})", hint) from None


def numbered(path: str, number: int | None) -> str:
    """``out.mp4`` -> ``out-2.mp4`` for the second of several prompts; unchanged for one prompt."""
    if number is None:
        return path
    target = Path(path)
    return str(target.with_name(f"{target.stem}-{number}{target.suffix}"))


def _files(args: argparse.Namespace, number: int | None, suffixes: tuple[str, ...]) -> dict[str, Any]:
    """The files of one prompt, every one checked now; ``extras`` is checked once the pipeline's outputs are known."""
    files: dict[str, Any] = {
        "video": check_output_path(numbered(args.output, number), "--output", suffixes, what="video")
    }
    if args.gif is not None:
        files["gif"] = check_output_path(numbered(args.gif, number), "--gif", (".gif",), what="GIF")
    if args.contact_sheet is not None:
        files["sheet"] = check_output_path(
            numbered(args.contact_sheet, number), "--contact-sheet", (".png",), what="image"
        )
    if args.extras is not None:
        files["extras"] = numbered(args.extras, number)
    else:
        files["extras"] = str(files["video"].with_name(files["video"].stem + ".extras.safetensors"))
    return files


def _check_distinct(files: list[dict[str, Any]]) -> None:
    """Refuse a run that would write one file twice (``-o x.gif --gif x.gif``)."""
    seen: dict[str, str] = {}
    for entry in files:
        for role, path in entry.items():
            if role == "extras" and not isinstance(path, Path):
                continue  # not yet known to be written
            key = os.path.normcase(os.path.abspath(path))
            if key in seen:
                raise ConfigError(f"{path} would be written twice (as {seen[key]} and {role})", "give each a name")
            seen[key] = role


def _check_scale(args: argparse.Namespace, size: tuple[int, ...]) -> None:
    """Refuse a ``--scale`` whose written frames or contact sheet break the pixel limits."""
    from sora_core.video_io import check_scale

    if len(size) != 3:
        return
    count, height, width = (int(n) for n in size)
    columns = math.ceil(math.sqrt(count)) if args.contact_sheet else None
    check_scale(args.scale, count, height, width, flag="--scale", columns=columns)
