"""``sora caption CLIP``, ``sora ask CLIP QUESTION`` and ``sora summarize CLIP``: the ``v2t``, ``vqa`` and
``summarize`` templates run on an MP4, a GIF or a folder of PNG frames.

Argument parsers over :mod:`sora_core.api` (``sora_core.caption``, ``ask``, ``summarize``): one implementation
builds, checks and runs the pipeline for both.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sora_core.cli.pipeline_commands import SWAP_HELP
from sora_core.errors import ConfigError

#: The clip argument of each command.
VIDEO_HELP = "the clip: .mp4, .gif or a folder of .png frames (with --out: a folder of clips or a glob pattern)"


def add_commands(commands: Any) -> None:
    parser = commands.add_parser("caption", help="describe a video in words (the v2t pipeline)")
    parser.add_argument("video", help=VIDEO_HELP)
    parser.add_argument("--template", default="v2t", help="the video-to-text template or spec file (default v2t)")
    _common(parser)
    parser.set_defaults(run=run_caption)

    parser = commands.add_parser("ask", help="answer a question about a video (the vqa pipeline)")
    parser.add_argument("video", help=VIDEO_HELP)
    parser.add_argument("question", help='what to ask, e.g. "what colour is the circle?"')
    parser.add_argument("--template", default="vqa", help="the question-answering template or spec file (default vqa)")
    _common(parser)
    parser.set_defaults(run=run_ask)

    parser = commands.add_parser("summarize", help="the key frames of a video and a one-line summary")
    parser.add_argument("video", help=VIDEO_HELP)
    parser.add_argument("--template", default="summarize", help="the summarising template or spec file")
    parser.add_argument("--sheet", metavar="FILE.png", help="also write the key frames side by side into one PNG")
    parser.add_argument("--scale", type=int, default=1, help="enlarge each pixel of the sheet (sides <= 16384 px)")
    _common(parser)
    parser.set_defaults(run=run_summarize)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0, help="seed of the run (default 0)")
    parser.add_argument("--device", help="run the pipeline's nodes on this device (cpu, cuda, cuda:1, mps)")
    parser.add_argument("--json", action="store_true", help="print the outputs as JSON")
    parser.add_argument("--swap", dest="swaps", action="append", default=[], metavar="NODE=PARTICLE", help=SWAP_HELP)
    parser.add_argument(
        "--set", dest="settings", action="append", default=[], metavar="NODE.FIELD=VALUE", help="change a node's config"
    )
    parser.add_argument("--strict", action="store_true", help="make every warning an error (exit 1)")
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show progress bars (default: on a terminal, or SORA_PROGRESS=1)",
    )
    parser.add_argument(
        "--out",
        metavar="FILE.jsonl",
        help="run a resumable batch: VIDEO is a folder (its .mp4/.gif clips and folders of .png frames) or a glob "
        "pattern, and one JSON line per clip goes to FILE.jsonl; a rerun skips the clips already done",
    )
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="with --out: run on N local processes, each building the pipeline once (default 1: in this process)",
    )
    parser.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="with --out: run the batch on a Ray cluster (auto: the running one; local: a Ray started here; "
        "HOST:PORT: its head), --workers actors (default: one per CPU), each building the pipeline once; "
        "needs pip install 'sora-core[ray]'",
    )


def _batch(args: argparse.Namespace) -> int | None:
    """With ``--out``, the batch over every clip (its exit status); else ``None`` (``--workers`` refused)."""
    from sora_core.cli import batch_commands

    if args.out is None:
        batch_commands.refuse_workers(args, "--out")
        return None
    return batch_commands.run_clip_batch(args)


def run_on_clip(args: argparse.Namespace, inputs: dict[str, Any], wanted: tuple[str, ...], clip: Any = None) -> Any:
    """Run ``args.template`` (with ``--swap``/``--set``) on the clip ``args.video`` through
    :func:`sora_core.api.understand`; each SoraWarning is printed as a ``warning:`` line (an error under
    ``--strict``)."""
    from sora_core import api
    from sora_core.cli.output import warn

    defaults = {"caption": "v2t", "ask": "vqa", "summarize": "summarize"}
    outputs, records = api.understand(
        args.video if clip is None else clip,
        inputs,
        wanted,
        template=args.template,
        default=defaults.get(getattr(args, "command", None) or "", args.template),
        seed=args.seed,
        swaps=args.swaps,
        settings=args.settings,
        device=args.device,
        progress=args.progress,
        strict=args.strict,
        _names=api._CLI,
    )
    for message in dict.fromkeys(str(record.message) for record in records):
        warn(message)
    return outputs


def run_caption(args: argparse.Namespace) -> int:
    if (status := _batch(args)) is not None:
        return status
    outputs = run_on_clip(args, {}, ("caption",))
    caption = outputs["caption"][0]
    if args.json:
        count = outputs.get("count")
        print(json.dumps({"caption": caption, "objects": None if count is None else int(count[0])}))
    else:
        sys.stdout.write(caption + "\n")
    return 0


def run_ask(args: argparse.Namespace) -> int:
    from sora_core.api import _CLI, check_question

    check_question(args.question, _CLI)
    if (status := _batch(args)) is not None:
        return status
    answer = run_on_clip(args, {"question": [args.question]}, ("answer",))["answer"][0]
    print(json.dumps({"question": args.question, "answer": answer}) if args.json else answer)
    return 0


def run_summarize(args: argparse.Namespace) -> int:
    from sora_core import api
    from sora_core.cli.output import warn
    from sora_core.video_io import check_scale

    if args.scale < 1:  # the clip's size bounds it from above: checked once the clip is read, again per sheet
        raise ConfigError(f"--scale {args.scale} must be at least 1", "use --scale 4 to enlarge 64x64 frames")
    if args.sheet and Path(args.sheet).suffix.lower() != ".png":
        raise ConfigError(f"--sheet {args.sheet}: the sheet is a PNG", "name it FILE.png")
    if args.sheet is not None:
        from sora_core.cli.paths import check_output_path

        check_output_path(args.sheet, "--sheet", (".png",), what="image")
    if args.out is not None and args.sheet is not None:
        raise ConfigError("--sheet names one file, and --out runs a batch of clips", "drop --sheet, or --out")
    if (status := _batch(args)) is not None:
        return status
    clip = api.load_video(args.video)  # an unreadable (or too large) file fails before anything is built
    if args.sheet:  # one key frame, at least, goes on the sheet: refuse a scale it cannot take
        check_scale(args.scale, 1, *clip.shape[1:], flag="--scale", columns=1)
    summary = api.summary_of(run_on_clip(args, {}, ("frames", "summary"), clip=clip))
    if args.sheet:
        if summary.images is not None and len(summary.images):
            summary._save_sheet(args.sheet, scale=args.scale, names=api._CLI)
        else:
            reason = "no key frames were found" if not summary.key_frames else "the pipeline has no output 'images'"
            warn(f"--sheet {args.sheet} not written: {reason}")
    if args.json:
        print(json.dumps({"summary": summary.text, "key_frames": summary.key_frames}))
    else:
        print(summary.text)
        print("key frames: " + (", ".join(map(str, summary.key_frames)) or "none"))
    return 0
