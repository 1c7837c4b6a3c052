"""``sora generate PROMPT -o out.mp4``: the main job, a text-to-video pipeline run from the command line."""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any

from sora_core.cli.paths import check_output_path
from sora_core.errors import ConfigError

#: Which node of a text-to-video template each convenience flag configures (``--set`` reaches any field).
FLAG_FIELDS: dict[str, tuple[str, str]] = {
    "frames": ("sampler", "frames"),
    "height": ("sampler", "height"),
    "width": ("sampler", "width"),
    "guidance": ("sampler", "guidance_scale"),
    "candidates": ("sampler", "candidates"),
    "steps": ("scheduler", "steps"),
    "negative_prompt": ("prompts", "negative_prompt"),
}


def add_commands(commands: Any) -> None:
    parser = commands.add_parser("generate", help="generate a video from a prompt (the t2v pipeline)")
    parser.add_argument("prompt", help="what the video should show")
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="the video to write: .mp4 or .gif")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--template", default="t2v", help="the text-to-video template or spec file (default t2v)")
    source.add_argument(
        "--model",
        metavar="PATH",
        help="run a model folder instead (a diffusers Wan, CogVideoX or LTX-Video folder, or a Hugging Face cache "
        "snapshot of one), read by an installed importer",
    )
    parser.add_argument("--device", help="run the nodes with weights on this device (cpu, cuda, cuda:1, mps)")
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
    parser.add_argument("--seed", type=int, default=0, help="seed of the run (default 0): same seed, same video")
    parser.add_argument("--fps", type=float, default=8.0, help="frames per second of the written video (default 8)")
    parser.add_argument("--scale", type=int, default=1, help="enlarge each pixel to SCALE x SCALE in the files")
    parser.add_argument("--gif", metavar="FILE", help="also write an animated GIF")
    parser.add_argument("--contact-sheet", metavar="FILE", help="also write every frame tiled into one PNG")
    parser.add_argument(
        "--swap", dest="swaps", action="append", default=[], metavar="NODE=PARTICLE", help="replace a node's particle"
    )
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="NODE.FIELD=VALUE",
        help="change a node's config, e.g. --set denoiser.cross_attention=sora-dit:gated-cross-attention",
    )
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help="show progress bars")
    parser.set_defaults(run=run_generate)


def run_generate(args: argparse.Namespace) -> int:
    from sora_core.cli.pipeline_commands import build
    from sora_core.video_io import VIDEO_SUFFIXES, check_fps, to_frames, write_contact_sheet, write_video

    output = check_output_path(args.output, "--output", VIDEO_SUFFIXES, what="video")
    if args.gif is not None:
        check_output_path(args.gif, "--gif", (".gif",), what="GIF")
    if args.contact_sheet is not None:
        check_output_path(args.contact_sheet, "--contact-sheet", (".png",), what="image")
    _check_guidance(args.guidance)
    if args.scale < 1:
        raise ConfigError(f"--scale {args.scale} must be at least 1", "use --scale 4 to enlarge a 64x64 video")
    check_fps(args.fps, flag="--fps")
    if not args.prompt.strip():
        raise ConfigError("the prompt is empty", 'describe the video, e.g. sora generate "a red circle moving right"')
    args.target = args.template
    args.settings = _flag_settings(args) + list(args.settings)
    started = time.perf_counter()
    pipe = build(args, spec=_model_spec(args.model) if args.model else None, placement=_placement(args))
    if "prompt" not in pipe.spec.inputs or "video" not in pipe.spec.outputs:
        raise ConfigError(
            f"pipeline {pipe.name!r} is not a text-to-video pipeline: it needs an input 'prompt' and an output 'video'",
            "use the t2v template, or a spec with those names",
        )
    _check_output_size(args, _sampler_size(pipe))  # the asked sizes, before the run
    outputs = _run_reporting_warnings(pipe, args)
    _check_output_size(args, tuple(outputs["video"].shape[-3:]))  # the made sizes, before anything is written
    frames = to_frames(outputs["video"], scale=args.scale)
    written = [write_video(frames, output, fps=args.fps)]
    if args.gif:
        written.append(write_video(frames, args.gif, fps=args.fps))
    if args.contact_sheet:
        written.append(write_contact_sheet(frames, args.contact_sheet))
    seconds = time.perf_counter() - started
    count, height, width, _ = frames.shape
    sys.stderr.write(
        f"{', '.join(str(p) for p in written)}: {count} frames of {width}x{height} from {args.prompt!r} "
        f"(seed {args.seed}, {seconds:.1f} s)\n"
    )
    return 0


def _run_reporting_warnings(pipe: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Run the pipeline; every ``SoraWarning`` a particle raises (a size its weights were not trained for) is
    printed as one ``warning:`` line, so the video is never handed over as if nothing were off."""
    import warnings

    from sora_core.cli.output import warn
    from sora_core.errors import SoraWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SoraWarning)
        outputs = pipe.run({"prompt": [args.prompt]}, seed=args.seed, progress=args.progress)
    for message in dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, SoraWarning)):
        warn(message)
    for other in (w for w in caught if not issubclass(w.category, SoraWarning)):
        warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)
    return outputs


def _model_spec(path: str) -> Any:
    """The spec an installed importer writes for the model folder ``path``."""
    from sora_core import registry
    from sora_core.importers import import_spec, importer_for_folder

    return import_spec(importer_for_folder(path, registry.default_registry), path)


def _placement(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """``(--device, --dtype)``, the device checked before anything is built."""
    if args.device is not None:
        from sora_core.limits import check_device

        check_device(args.device, "--device")
    return args.device, args.dtype


def _sampler_size(pipe: Any) -> tuple[int, ...] | None:
    """``(frames, height, width)`` the ``sampler`` node is configured to make, when it has such fields."""
    config = getattr(pipe.nodes.get("sampler"), "config", None)
    size = tuple(getattr(config, field, None) for field in ("frames", "height", "width"))
    return size if all(isinstance(n, int) for n in size) else None  # type: ignore[return-value]


def _check_output_size(args: argparse.Namespace, size: tuple[int, ...] | None) -> None:
    """Refuse --frames/--height/--width and a --scale whose written frames or contact sheet break the pixel limits."""
    from sora_core.video_io import check_scale, check_video_size

    if size is None or len(size) != 3:
        return
    count, height, width = (int(n) for n in size)
    check_video_size(count, height, width, what=f"--frames {count} --height {height} --width {width}")
    columns = math.ceil(math.sqrt(count)) if args.contact_sheet else None
    check_scale(args.scale, count, height, width, flag="--scale", columns=columns)


def _check_guidance(guidance: float | None) -> None:
    if guidance is not None and not (math.isfinite(guidance) and guidance >= 0):
        raise ConfigError(
            f"--guidance {guidance} is out of range: it is a finite number from 0 up",
            "1 turns guidance off; 3 to 7 is usual (the default is the template's, 4)",
        )


def _flag_settings(args: argparse.Namespace) -> list[str]:
    """The convenience flags as ``NODE.FIELD=VALUE`` settings (values as JSON, so strings keep their quotes)."""
    import json

    return [
        f"{node}.{field}={json.dumps(getattr(args, flag))}"
        for flag, (node, field) in FLAG_FIELDS.items()
        if getattr(args, flag) is not None
    ]
