"""Evaluate a trained causal VAE on held-out clips against two baselines measured in the same run.

    python -m training.eval_vae --weights /tmp/runs/vae             # DIR/encoder and DIR/decoder
    python -m training.eval_vae --weights default                   # the weights sora-vae ships
    python -m training.eval_vae --weights /tmp/runs/vae --sheet /tmp/vae.png --json /tmp/vae-eval.json
    python -m training.eval_vae --weights default --size 17x96x64   # 17 frames of 64 wide by 96 high

Baselines: the same VAE untrained (seeded initialisation) and ``blur``: every frame averaged over 4x4
blocks and upsampled bilinearly, which keeps 3x9x16x16 numbers per clip at 9x64x64 (the latent keeps
8x3x16x16). Held-out clips are seeded from a stream training never draws (:data:`training.data.HELD_OUT`) and
drawn at ``--size FRAMESxHEIGHTxWIDTH`` (default 9x64x64), their scenes laid out for that aspect ratio.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from sora_synth.evaluate import ATTRIBUTES

from sora_core import registry
from sora_core.video_io import to_frames, write_contact_sheet
from training.data import FRAMES, HEIGHT, WIDTH, held_out_scenes, render_batch
from training.train_vae import DECODER, ENCODER, build_models
from training.vae_metrics import ClipFigures, blur_baseline, clip_figures, summarise

Reconstruct = Callable[[torch.Tensor], torch.Tensor]
Size = tuple[int, int, int]

#: The VAE's compression: frames are 1 + k * TEMPORAL, heights and widths multiples of SPATIAL.
TEMPORAL, SPATIAL = 4, 4


def parse_size(text: str) -> Size:
    """``FRAMESxHEIGHTxWIDTH`` (e.g. ``17x64x96``) as ``(frames, height, width)``, checked against the VAE's
    compression."""
    parts = text.lower().split("x")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"{text!r}: write FRAMESxHEIGHTxWIDTH, e.g. 9x64x96")
    frames, height, width = map(int, parts)
    if frames < 1 or (frames - 1) % TEMPORAL:
        raise argparse.ArgumentTypeError(f"{text!r}: frames must be 1 + k * {TEMPORAL} (1, 5, 9, 13, 17, ...)")
    if min(height, width) < SPATIAL * 4 or height % SPATIAL or width % SPATIAL:
        raise argparse.ArgumentTypeError(f"{text!r}: height and width must be multiples of {SPATIAL}, at least 16")
    return frames, height, width


def load_trained(weights: str) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The encoder and decoder of ``weights`` (a training run's OUT directory, or ``default``)."""
    if weights == "default":
        return registry.load(ENCODER), registry.load(DECODER)
    root = Path(weights)
    return registry.load(ENCODER, weights=root / "encoder"), registry.load(DECODER, weights=root / "decoder")


def vae_reconstruct(encoder: torch.nn.Module, decoder: torch.nn.Module) -> Reconstruct:
    """Encode to the posterior mean and decode (what a pipeline does)."""

    def run(video: torch.Tensor) -> torch.Tensor:
        encoder.eval()
        decoder.eval()
        with torch.inference_mode():
            return decoder(latent=encoder(video=video)["latent"])["video"]

    return run


def evaluate(
    reconstruct: Reconstruct, clips: int, size: Size = (FRAMES, HEIGHT, WIDTH), batch: int = 8
) -> tuple[list[ClipFigures], torch.Tensor]:
    """Figures for ``clips`` held-out clips at ``size``, and the reconstructions of the first batch."""
    frames, height, width = size
    scenes = held_out_scenes(clips, aspect=width / height)
    figures, first = [], None
    for start in range(0, clips, batch):
        chunk = scenes[start : start + batch]
        video = render_batch(chunk, frames, height, width)
        recon = reconstruct(video)
        first = recon if first is None else first
        figures += [clip_figures(s, v, r) for s, v, r in zip(chunk, video, recon, strict=True)]
    assert first is not None
    return figures, first


def write_sheet(path: Path, rows: dict[str, torch.Tensor], clips: int = 4) -> None:
    """Per clip, one row of frames per entry of ``rows`` (ground truth first), 9 columns."""
    frames = [to_frames(rows[name][i]) for i in range(clips) for name in rows]
    write_contact_sheet(np.concatenate(frames), path, columns=frames[0].shape[0])


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(prog="python -m training.eval_vae", description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", required=True, help="training run directory (encoder/, decoder/) or 'default'")
    parser.add_argument("--clips", type=int, default=64, help="held-out clips")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--size",
        type=parse_size,
        default=(FRAMES, HEIGHT, WIDTH),
        help=f"clip size FRAMESxHEIGHTxWIDTH (default {FRAMES}x{HEIGHT}x{WIDTH})",
    )
    parser.add_argument("--sheet", type=Path, help="write a contact sheet: truth, trained, blur rows for 4 clips")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    trained = vae_reconstruct(*load_trained(args.weights))
    candidates: dict[str, Reconstruct] = {
        "trained": trained,
        "untrained": vae_reconstruct(*build_models(0)),
        "blur": blur_baseline,
    }
    results, firsts = {}, {}
    for name, reconstruct in candidates.items():
        figures, firsts[name] = evaluate(reconstruct, args.clips, args.size)
        results[name] = summarise(figures)
    header = f"{'':10} {'PSNR dB':>8} {'min':>6} {'colour err':>10} {'max':>6} {'obj IoU':>8} {'min':>6}"
    size = "x".join(map(str, args.size))
    print(f"{args.clips} held-out clips, {size} (colour error: RGB distance on 0..255)")
    print(header)
    for name, r in results.items():
        print(
            f"{name:10} {r['psnr_db']:8.2f} {r['psnr_db_min']:6.2f} {r['colour_error']:10.2f} "
            f"{r['colour_error_max']:6.1f} {r['object_iou']:8.3f} {r['object_iou_min']:6.3f}"
        )
    print("sora-synth's evaluator on the reconstructions (captions of the true scenes):")
    for name, r in results.items():
        cells = "  ".join(f"{a} {100 * r[f'evaluator_{a}']:5.1f}%" for a in (*ATTRIBUTES, "all"))
        print(f"  {name:10} {cells}")
    for base in ("untrained", "blur"):
        t, b = results["trained"], results[base]
        print(
            f"trained vs {base}: MSE {10 ** ((t['psnr_db'] - b['psnr_db']) / 10):.2f}x lower, "
            f"colour error {b['colour_error'] / max(t['colour_error'], 1e-9):.1f}x lower"
        )
    if args.sheet:
        frames, height, width = args.size
        truth = render_batch(held_out_scenes(4, aspect=width / height), frames, height, width)
        write_sheet(args.sheet, {"truth": truth, "trained": firsts["trained"], "blur": firsts["blur"]})
        print(f"wrote {args.sheet}")
    if args.json:
        args.json.write_text(json.dumps({"clips": args.clips, "size": size, **results}, indent=1) + "\n")
    return results


if __name__ == "__main__":
    main()
