"""Stage 1: train the causal video VAE (``sora-vae:causal-vae-encoder`` + ``causal-vae-decoder``) on synthetic clips.

    python -m training.train_vae --out /tmp/runs/vae --steps 2000 --batch 8 --threads 2
    python -m training.train_vae --out /tmp/runs/vae --steps 2000 --batch 8 --threads 2 --resume

Clips are drawn on the fly from sora-synth, seeded by ``(seed, step)``. Writes ``OUT/log.jsonl`` (one line
per logged step), checkpoints under ``OUT/checkpoints/`` every ``--checkpoint-every`` steps and at the
end, and the trained particles under ``OUT/encoder`` and ``OUT/decoder`` (``save_pretrained``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch

from sora_core import registry
from training.checkpoints import checkpoint_if_due, resume_or_start
from training.data import train_batch
from training.logging_utils import LossLog
from training.schedule import set_learning_rate, warmup_cosine
from training.vae_objective import vae_step_loss

ENCODER = "sora-vae:causal-vae-encoder"
DECODER = "sora-vae:causal-vae-decoder"
#: Arguments a resumed run must share with the run it continues.
FIXED = (
    "seed",
    "batch",
    "crop",
    "logvar_init",
    "lr",
    "warmup",
    "kl_weight",
    "edge_weight",
    "foreground_weight",
    "weight_decay",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.train_vae", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="run directory (keep it outside the repository)")
    parser.add_argument("--steps", type=int, default=2000, help="total optimizer steps")
    parser.add_argument("--batch", type=int, default=8, help="clips per step")
    parser.add_argument("--crop", type=int, default=32, help="train on crop x crop windows (0: whole 64x64 frames)")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (AdamW)")
    parser.add_argument("--warmup", type=int, default=50, help="linear warm-up steps before the cosine decay")
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--kl-weight", type=float, default=1e-4, help="weight of the mean per-element KL")
    parser.add_argument("--edge-weight", type=float, default=0.5, help="weight of the image-gradient L1 term")
    parser.add_argument(
        "--foreground-weight",
        type=float,
        default=1.0,
        help="weight of the L1 + MSE averaged over object pixels only (objects cover a small share of a frame)",
    )
    parser.add_argument(
        "--logvar-init",
        type=float,
        default=-6.0,
        help="initial posterior log-variance (bias of the encoder's logvar channels): with the default 0 the "
        "sampled latent starts as unit noise that drowns the mean, and the decoder collapses to grey",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--checkpoint-every", type=int, default=200)
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/latest.json")
    parser.add_argument("--time-limit", type=float, default=None, help="stop (checkpointed) after this many minutes")
    return parser.parse_args(argv)


def build_models(seed: int, logvar_init: float = 0.0) -> tuple[Any, Any]:
    """The default-config encoder and decoder, initialised from ``seed``; ``logvar_init`` biases the log-variance."""
    torch.manual_seed(seed)
    encoder, decoder = registry.create(ENCODER), registry.create(DECODER)
    with torch.no_grad():
        encoder.conv_out.bias[encoder.config.latent_channels :] += logvar_init
    return encoder, decoder


def train(args: argparse.Namespace) -> tuple[Any, Any]:
    torch.set_num_threads(args.threads)
    encoder, decoder = build_models(args.seed, args.logvar_init)
    models = {"encoder": encoder, "decoder": decoder}
    params = [*encoder.parameters(), *decoder.parameters()]
    optimizer = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.99), weight_decay=args.weight_decay)
    fixed = {name: getattr(args, name) for name in FIXED}
    root = args.out / "checkpoints"
    start = resume_or_start(root, models, optimizer, fixed, resume=args.resume)
    log = LossLog(args.out / "log.jsonl", resume_step=start if args.resume else None)
    encoder.train()
    decoder.train()
    began = time.perf_counter()
    step = start
    while step < args.steps:
        lr = warmup_cosine(step, args.steps, args.lr, args.warmup)
        set_learning_rate(optimizer, lr)
        video = train_batch(args.seed, step, args.batch, args.crop)
        generator = torch.Generator().manual_seed(args.seed * 1_000_003 + step)
        loss = vae_step_loss(
            encoder, decoder, video, generator, args.kl_weight, args.edge_weight, args.foreground_weight
        )
        optimizer.zero_grad(set_to_none=True)
        loss.total.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        step += 1
        if step % args.log_every == 0 or step == args.steps:
            record = log.write(
                step,
                lr=lr,
                total=loss.total.item(),
                reconstruction=loss.reconstruction.item(),
                kl=loss.kl.item(),
                edge=loss.edge.item(),
                foreground=loss.foreground.item(),
                grad_norm=float(grad_norm),
            )
            print(" ".join(f"{k}={v}" for k, v in record.items()), flush=True)
        if checkpoint_if_due(
            root,
            step,
            models,
            optimizer,
            fixed=fixed,
            total=args.steps,
            every=args.checkpoint_every,
            seconds=time.perf_counter() - began,
            time_limit=args.time_limit,
        ):
            break
    encoder.eval()
    decoder.eval()
    encoder.save_pretrained(args.out / "encoder")
    decoder.save_pretrained(args.out / "decoder")
    print(f"wrote {args.out / 'encoder'} and {args.out / 'decoder'} at step {step}", flush=True)
    return encoder, decoder


def main(argv: list[str] | None = None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    main()
