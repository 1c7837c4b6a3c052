"""``sora caption CLIP``, ``sora ask CLIP QUESTION`` and ``sora summarize CLIP``: the ``v2t``, ``vqa`` and
``summarize`` templates run on an MP4, a GIF or a folder of PNG frames."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sora_core.errors import ConfigError


def add_commands(commands: Any) -> None:
    parser = commands.add_parser("caption", help="describe a video in words (the v2t pipeline)")
    parser.add_argument("video", help="the clip: .mp4, .gif or a folder of .png frames")
    parser.add_argument("--template", default="v2t", help="the video-to-text template or spec file (default v2t)")
    _common(parser)
    parser.set_defaults(run=run_caption)

    parser = commands.add_parser("ask", help="answer a question about a video (the vqa pipeline)")
    parser.add_argument("video", help="the clip: .mp4, .gif or a folder of .png frames")
    parser.add_argument("question", help='what to ask, e.g. "what colour is the circle?"')
    parser.add_argument("--template", default="vqa", help="the question-answering template or spec file (default vqa)")
    _common(parser)
    parser.set_defaults(run=run_ask)

    parser = commands.add_parser("summarize", help="the key frames of a video and a one-line summary")
    parser.add_argument("video", help="the clip: .mp4, .gif or a folder of .png frames")
    parser.add_argument("--template", default="summarize", help="the summarising template or spec file")
    parser.add_argument("--sheet", metavar="FILE.png", help="also write the key frames side by side into one PNG")
    parser.add_argument("--scale", type=int, default=1, help="enlarge each pixel of the sheet (sides <= 16384 px)")
    _common(parser)
    parser.set_defaults(run=run_summarize)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0, help="seed of the run (default 0)")
    parser.add_argument("--json", action="store_true", help="print the outputs as JSON")
    parser.add_argument(
        "--swap", dest="swaps", action="append", default=[], metavar="NODE=PARTICLE", help="replace a node's particle"
    )
    parser.add_argument(
        "--set", dest="settings", action="append", default=[], metavar="NODE.FIELD=VALUE", help="change a node's config"
    )
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=False, help="show progress bars")


def read_clip(path: str) -> Any:
    """The clip at ``path`` as a batch of one ``(1, 3, T, H, W)`` in ``[-1, 1]``."""
    from sora_core.video_io import read_video, to_video

    return to_video(read_video(Path(path)))[None]


def run_on_clip(args: argparse.Namespace, inputs: dict[str, Any], wanted: tuple[str, ...]) -> dict[str, Any]:
    """Build ``args.template`` (with ``--swap``/``--set``), check it has the inputs and ``wanted`` outputs, run it."""
    from sora_core.cli.pipeline_commands import build
    from sora_core.video_io import check_scale

    video = read_clip(args.video)  # an unreadable (or too large) file fails before anything is built
    if getattr(args, "sheet", None):  # one key frame, at least, goes on the sheet: refuse a scale it cannot take
        check_scale(args.scale, 1, *video.shape[-2:], flag="--scale", columns=1)
    args.target = args.template
    pipe = build(args)
    missing = [f"input {n!r}" for n in ("video", *inputs) if n not in pipe.spec.inputs]
    missing += [f"output {n!r}" for n in wanted if n not in pipe.spec.outputs]
    if missing:
        raise ConfigError(
            f"pipeline {pipe.name!r} lacks {', '.join(missing)}", f"use a template with them (default {args.template})"
        )
    return pipe.run({"video": video, **inputs}, seed=args.seed, progress=args.progress)


def run_caption(args: argparse.Namespace) -> int:
    outputs = run_on_clip(args, {}, ("caption",))
    caption = outputs["caption"][0]
    if args.json:
        count = outputs.get("count")
        print(json.dumps({"caption": caption, "objects": None if count is None else int(count[0])}))
    else:
        sys.stdout.write(caption + "\n")
    return 0


def run_ask(args: argparse.Namespace) -> int:
    if not args.question.strip():
        raise ConfigError("the question is empty", 'ask e.g. sora ask clip.mp4 "what colour is the circle?"')
    answer = run_on_clip(args, {"question": [args.question]}, ("answer",))["answer"][0]
    print(json.dumps({"question": args.question, "answer": answer}) if args.json else answer)
    return 0


def run_summarize(args: argparse.Namespace) -> int:
    from sora_core.video_io import check_scale, to_frames, write_contact_sheet

    if args.scale < 1:  # the clip's size bounds it from above: checked once the clip is read, again per sheet
        raise ConfigError(f"--scale {args.scale} must be at least 1", "use --scale 4 to enlarge 64x64 frames")
    if args.sheet and Path(args.sheet).suffix.lower() != ".png":
        raise ConfigError(f"--sheet {args.sheet}: the sheet is a PNG", "name it FILE.png")
    if args.sheet is not None:
        from sora_core.cli.paths import check_output_path

        check_output_path(args.sheet, "--sheet", (".png",), what="image")
    outputs = run_on_clip(args, {}, ("frames", "summary"))
    frames = [int(f) for f in outputs["frames"][0] if f >= 0]
    summary = outputs["summary"][0]
    if args.sheet and frames and "images" in outputs:
        images = outputs["images"][0, : len(frames)]  # (K, 3, H, W): write them as K frames of one clip
        check_scale(args.scale, len(frames), *images.shape[-2:], flag="--scale", columns=len(frames))
        write_contact_sheet(to_frames(images.permute(1, 0, 2, 3), scale=args.scale), args.sheet, columns=len(frames))
    if args.json:
        print(json.dumps({"summary": summary, "key_frames": frames}))
    else:
        print(summary)
        print("key frames: " + (", ".join(map(str, frames)) or "none"))
    return 0
