"""Stage 2: train the t2v denoiser (``sora-dit:dit-denoiser``) on a frozen VAE's latents, conditioned on a text encoder.

    python -m training.train_t2v --out /tmp/runs/t2v --vae /tmp/runs/vae --steps 3000 --batch 8 --threads 1
    python -m training.train_t2v --out /tmp/runs/t2v --vae /tmp/runs/vae --steps 3000 --batch 8 --threads 1 --resume

Captioned clips are drawn on the fly from sora-synth's training stream, seeded by ``(seed, step)``, and
encoded by the frozen VAE encoder (posterior mean). The byte-transformer text encoder is trained jointly;
MiniLM (``--text-encoder sora-text:minilm-l6``) stays frozen and the denoiser reads its 384 features.
Writes ``OUT/log.jsonl``, checkpoints under ``OUT/checkpoints/``, and at the end ``OUT/denoiser``,
``OUT/text_encoder`` (byte transformer only) with ``save_pretrained`` and ``OUT/t2v.json`` (what was trained).
With ``--ema D`` (default 0.999) those are the exponential moving averages of the trained weights (the raw
ones go to ``OUT/denoiser-raw`` and ``OUT/text_encoder-raw``); ``--ema 0`` ships the raw weights.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sora_core import registry
from sora_core.atomic import atomic_write_text
from sora_core.errors import SoraError
from training.checkpoints import checkpoint_if_due, resume_or_start
from training.data import TRAIN
from training.ema import ema_copy, ema_update
from training.latent_cache import cached_batch, run_cache
from training.logging_utils import LossLog
from training.schedule import set_learning_rate, warmup_cosine
from training.t2v_objective import (
    DENOISER,
    MINILM,
    TEXT_ENCODERS,
    build_denoiser,
    build_text_encoder,
    caption_batch,
    encode_latents,
    load_vae_encoder,
    resolve_vae,
    t2v_step_loss,
)

#: Arguments a resumed run must share with the run it continues.
FIXED = (
    "seed",
    "batch",
    "lr",
    "warmup",
    "weight_decay",
    "cfg_dropout",
    "text_encoder",
    "frames",
    "height",
    "width",
    "denoiser_config",
    "text_config",
    "vae",
    "cache_clips",
    "foreground_weight",
    "init_denoiser",
    "ema",
    "bf16",
    "synonym_rate",
    "time_shift",
    "two_object_rate",
    "buckets",
    "bucket_weights",
)
#: Arguments added after runs were checkpointed: left out of the fixed set while they keep their defaults, so
#: those runs still resume.
OPTIONAL_FIXED = ("bucket_weights",)

#: Stream of the per-step bucket draw (``default_rng([TRAIN, seed, step, BUCKET_STREAM])``).
BUCKET_STREAM = 9


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.train_t2v", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="run directory (keep it outside the repository)")
    parser.add_argument(
        "--vae", required=True, help="training.train_vae's --out directory (or its encoder/), or 'default'"
    )
    parser.add_argument(
        "--text-encoder",
        default=MINILM,
        choices=sorted(TEXT_ENCODERS),
        help="MiniLM (pretrained, frozen; the default t2v pipeline's) or the byte transformer (trained jointly)",
    )
    parser.add_argument(
        "--cache-clips",
        type=int,
        default=0,
        help="encode this many training clips once and draw every batch from them, re-captioned each time "
        "(0: encode fresh clips every step)",
    )
    parser.add_argument("--steps", type=int, default=3000, help="total optimizer steps")
    parser.add_argument("--batch", type=int, default=8, help="clips per step")
    parser.add_argument("--lr", type=float, default=3e-4, help="peak learning rate (AdamW)")
    parser.add_argument("--warmup", type=int, default=100, help="linear warm-up steps before the cosine decay")
    parser.add_argument("--weight-decay", type=float, default=1e-2)
    parser.add_argument("--cfg-dropout", type=float, default=0.1, help="probability of training on the empty prompt")
    parser.add_argument(
        "--foreground-weight",
        type=float,
        default=0.0,
        help="extra loss weight of latent positions holding objects (0: a plain mean over positions)",
    )
    parser.add_argument(
        "--init-denoiser",
        default=None,
        help="start from these denoiser weights (a save_pretrained directory) instead of a fresh denoiser",
    )
    parser.add_argument(
        "--synonym-rate",
        type=float,
        default=0.0,
        help="probability of swapping each attribute word of a caption for a training-only synonym",
    )
    parser.add_argument(
        "--time-shift",
        type=float,
        default=1.0,
        help="shift the logit-normal training times towards noise (t -> s t / (1 + (s - 1) t)), where the "
        "layout (how many objects, where) is decided; 1 leaves them as drawn",
    )
    parser.add_argument(
        "--two-object-rate",
        type=float,
        default=0.4,
        help="share of the latent cache's scenes that hold two objects (sora-synth's training stream: 0.4)",
    )
    parser.add_argument("--frames", type=int, default=9)
    parser.add_argument("--height", type=int, default=64)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument(
        "--buckets",
        default=None,
        help="train on several clip sizes, as Sora trains on native sizes: comma-separated FRAMESxHEIGHTxWIDTH "
        "buckets (e.g. 9x64x64,17x64x64,9x64x96); each has a latent cache of scenes drawn at its aspect ratio "
        "(--cache-clips for the first bucket, as many as cost the same to encode for the others), every step draws "
        "one bucket uniformly, and --batch is the first bucket's batch (the others get as many clips as keep a "
        "step's spacetime tokens about the same). Default: --frames/--height/--width",
    )
    parser.add_argument(
        "--bucket-weights",
        default=None,
        help="how often each bucket of --buckets is drawn, comma-separated positive numbers in the same order "
        "(e.g. 1,2,2 draws the second and third twice as often as the first). Default: uniform",
    )
    parser.add_argument("--denoiser-config", default="{}", help="JSON config overrides of the denoiser")
    parser.add_argument("--text-config", default="{}", help="JSON config overrides of the byte-transformer encoder")
    parser.add_argument(
        "--ema", type=float, default=0.999, help="decay of the weight average written as the result (0: none)"
    )
    parser.add_argument(
        "--bf16", action="store_true", help="bfloat16 autocast for the forward pass (weights stay float32)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--checkpoint-every", type=int, default=200)
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/latest.json")
    parser.add_argument("--time-limit", type=float, default=None, help="stop (checkpointed) after this many minutes")
    args = parser.parse_args(argv)
    if not 0.0 <= args.synonym_rate <= 1.0:
        parser.error(f"--synonym-rate {args.synonym_rate}: a probability, in [0, 1]")
    if args.time_shift <= 0:
        parser.error(f"--time-shift {args.time_shift}: must be positive (1 leaves the times as drawn)")
    if not 0.0 <= args.two_object_rate <= 1.0:
        parser.error(f"--two-object-rate {args.two_object_rate}: a probability, in [0, 1]")
    if not 0.0 <= args.ema < 1.0:
        parser.error(f"--ema {args.ema}: the decay must be in [0, 1) (0 turns the average off)")
    args.vae = str(args.vae)
    try:
        args.bucket_sizes = parse_buckets(args.buckets) if args.buckets else [(args.frames, args.height, args.width)]
    except ValueError as error:
        parser.error(f"--buckets {args.buckets}: {error}")
    if args.bucket_weights is not None:
        if not args.buckets:
            parser.error("--bucket-weights needs --buckets")
        try:
            args.bucket_weights = parse_bucket_weights(args.bucket_weights, len(args.bucket_sizes))
        except ValueError as error:
            parser.error(str(error))
    if args.buckets and not args.cache_clips:
        parser.error("--buckets needs --cache-clips N (each bucket's clips are encoded once)")
    return args


def parse_buckets(text: str) -> list[tuple[int, int, int]]:
    """``"9x64x64,17x96x96"`` as ``[(9, 64, 64), (17, 96, 96)]``; a ``ValueError`` saying what is wrong."""
    sizes = []
    for item in text.split(","):
        parts = item.strip().lower().split("x")
        if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
            raise ValueError(f"{item.strip()!r} is not FRAMESxHEIGHTxWIDTH (e.g. 17x64x96)")
        frames, height, width = map(int, parts)
        if (frames - 1) % 4 or height % 8 or width % 8:
            raise ValueError(f"{item.strip()!r}: frames must be 1 + 4k and height and width multiples of 8")
        sizes.append((frames, height, width))
    if len(set(sizes)) != len(sizes):
        raise ValueError("a bucket is named twice")
    return sizes


def parse_bucket_weights(text: str, buckets: int) -> list[float]:
    """``"1,2,2"`` as ``[1.0, 2.0, 2.0]``, one positive finite number per bucket; a ``ValueError`` otherwise."""
    try:
        weights = [float(item) for item in text.split(",")]
    except ValueError:
        raise ValueError(f"--bucket-weights {text!r}: comma-separated numbers (e.g. 1,2,2)") from None
    if len(weights) != buckets:
        raise ValueError(f"--bucket-weights {text!r}: {len(weights)} weight(s) for {buckets} bucket(s)")
    if not all(math.isfinite(w) and w > 0 for w in weights):
        raise ValueError(f"--bucket-weights {text!r}: every weight must be a positive number")
    return weights


def bucket_tokens(size: tuple[int, int, int]) -> int:
    """Spacetime patches of a clip of ``size`` (4x4x4 VAE, 1x2x2 patches): what a step's cost grows with."""
    frames, height, width = size
    return (1 + (frames - 1) // 4) * (height // 8) * (width // 8)


def bucket_batches(sizes: list[tuple[int, int, int]], batch: int) -> list[int]:
    """Clips per step of each bucket: ``batch`` for the first, the same spacetime tokens for the others."""
    base = batch * bucket_tokens(sizes[0])
    return [max(1, round(base / bucket_tokens(size))) for size in sizes]


def draw_bucket(seed: int, step: int, buckets: int, weights: list[float] | None = None) -> int:
    """The bucket of training step ``step``: uniform, or in proportion to ``weights``; a pure function of the seed
    and step (uniform draws are the ones runs made before weights existed)."""
    if buckets <= 1:
        return 0
    rng = np.random.default_rng([TRAIN, seed, step, BUCKET_STREAM])
    if weights is None or len(set(weights)) == 1:
        return int(rng.integers(buckets))
    share = np.asarray(weights, dtype=np.float64)
    return int(rng.choice(buckets, p=share / share.sum()))


def cpu_has_bfloat16() -> bool:
    """Whether this CPU has bfloat16 instructions (AVX-512 BF16 or AMX); without them autocast emulates bfloat16."""
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    found = [getattr(torch.cpu, name, None) for name in probes]
    if all(probe is None for probe in found):
        return True  # this torch cannot tell: assume the user knows their machine
    return any(probe is not None and probe() for probe in found)


def _vae_key(vae: str) -> str:
    return vae if vae == "default" else str(Path(vae).resolve())


def _latent_caches(args: argparse.Namespace, vae_encoder: Any, encoder_dir: Path | None) -> list[tuple[list[Any], Any]]:
    """Each bucket's cached scenes and latents (encoded now unless ``OUT`` holds them for this VAE and run).

    One bucket is the run's own cache in ``OUT``; with ``--buckets``, bucket ``i`` has its own scenes (seed
    stream ``seed * 1000 + i``) in ``OUT/cache-FxHxW``."""
    if not args.buckets:
        size = args.bucket_sizes[0]
        return [
            run_cache(args.out, args.vae, vae_encoder, encoder_dir, args.seed, args.cache_clips, size,
                      args.two_object_rate)
        ]  # fmt: skip
    caches = []
    for index, size in enumerate(args.bucket_sizes):
        folder = args.out / ("cache-" + "x".join(map(str, size)))
        clips = bucket_cache_clips(args.bucket_sizes, index, args.cache_clips)
        print(f"bucket {'x'.join(map(str, size))}: {clips} clips", flush=True)
        caches.append(
            run_cache(folder, args.vae, vae_encoder, encoder_dir, args.seed * 1000 + index, clips, size,
                      args.two_object_rate)
        )  # fmt: skip
    return caches


def bucket_cache_clips(sizes: list[tuple[int, int, int]], index: int, clips: int) -> int:
    """Clips in bucket ``index``'s cache: ``clips`` for the first bucket, and for the others as many as cost the
    same to encode (encoding time grows with a clip's spacetime tokens), at least 200."""
    return max(200, min(clips, round(clips * bucket_tokens(sizes[0]) / bucket_tokens(sizes[index]))))


def _check_init(denoiser: Any, vae_encoder: Any, args: argparse.Namespace) -> None:
    """Refuse ``--init-denoiser`` weights made for another latent or text space than this run's."""
    wanted = {"latent_space": vae_encoder.config.latent_space, "text_space": TEXT_ENCODERS[args.text_encoder][1]}
    wrong = [f"{k} {getattr(denoiser.config, k)!r} (this run: {v!r})" for k, v in wanted.items()
             if getattr(denoiser.config, k) != v]  # fmt: skip
    if wrong:
        raise SoraError(
            f"--init-denoiser {args.init_denoiser}: the denoiser reads {', '.join(wrong)}",
            "start from a denoiser trained with the same --vae and --text-encoder, or drop --init-denoiser",
        )


def train(args: argparse.Namespace) -> dict[str, Any]:
    """Run (or resume) stage 2; returns the trained particles by name (``denoiser``, ``text_encoder``) and,
    with ``--ema``, their averages (``denoiser-ema``, and ``text_encoder-ema`` when the text encoder is trained)."""
    torch.set_num_threads(args.threads)
    if args.bf16 and not cpu_has_bfloat16():
        print(
            "warning: --bf16 on a CPU without bfloat16 instructions (AVX-512 BF16 or AMX): autocast emulates "
            "them and a step runs about 15x slower than in float32 (measured on an AVX2 CPU); drop --bf16 here",
            file=sys.stderr,
            flush=True,
        )
    try:
        vae_encoder = load_vae_encoder(args.vae)
        encoder_dir, decoder_dir = resolve_vae(args.vae)
        trained_text, _ = TEXT_ENCODERS[args.text_encoder]
        text_encoder = build_text_encoder(args.text_encoder, args.seed, json.loads(args.text_config))
        text_dim = text_encoder.config.dim if trained_text else 384
        if args.init_denoiser:
            denoiser = registry.load(DENOISER, weights=args.init_denoiser).train()
            denoiser.requires_grad_(True)
            _check_init(denoiser, vae_encoder, args)
        else:
            denoiser = build_denoiser(
                vae_encoder, args.text_encoder, text_dim, args.seed, json.loads(args.denoiser_config)
            )
    except SoraError as error:
        sys.exit(f"error: {error}")
    models: dict[str, Any] = {"denoiser": denoiser}
    if trained_text:
        models["text_encoder"] = text_encoder
    params = [p for m in models.values() for p in m.parameters()]
    optimizer = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.99), weight_decay=args.weight_decay)
    averages = {f"{name}-ema": ema_copy(model) for name, model in models.items()} if args.ema else {}
    saved = {**models, **averages}
    fixed = {
        name: getattr(args, name) for name in FIXED if name not in OPTIONAL_FIXED or getattr(args, name) is not None
    }
    fixed["vae"] = _vae_key(args.vae)
    root = args.out / "checkpoints"
    start = resume_or_start(root, saved, optimizer, fixed, resume=args.resume)
    log = LossLog(args.out / "log.jsonl", resume_step=start if args.resume else None)
    caches = _latent_caches(args, vae_encoder, encoder_dir) if args.cache_clips else None
    batches = bucket_batches(args.bucket_sizes, args.batch)
    began = time.perf_counter()
    step = start
    while step < args.steps:
        lr = warmup_cosine(step, args.steps, args.lr, args.warmup)
        set_learning_rate(optimizer, lr)
        bucket = 0
        if caches is not None:
            bucket = draw_bucket(args.seed, step, len(caches), args.bucket_weights)
            latent, captions = cached_batch(
                args.seed, step, batches[bucket], *caches[bucket], synonym_rate=args.synonym_rate
            )
        else:
            video, captions = caption_batch(
                args.seed, step, args.batch, args.frames, args.height, args.width, args.synonym_rate
            )
            latent = encode_latents(vae_encoder, video)
        generator = torch.Generator().manual_seed(args.seed * 1_000_003 + step)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            loss = t2v_step_loss(
                denoiser,
                text_encoder,
                latent,
                captions,
                generator,
                args.cfg_dropout,
                args.foreground_weight,
                time_shift=args.time_shift,
            )
        optimizer.zero_grad(set_to_none=True)
        loss.total.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        for name, average in averages.items():
            ema_update(average, models[name.removesuffix("-ema")], args.ema, updates=step)
        step += 1
        if step % args.log_every == 0 or step == args.steps:
            record = log.write(
                step, lr=lr, loss=loss.total.item(), dropped=loss.dropped, grad_norm=float(grad_norm), bucket=bucket
            )
            print(" ".join(f"{k}={v}" for k, v in record.items()), flush=True)
        if checkpoint_if_due(
            root,
            step,
            saved,
            optimizer,
            fixed=fixed,
            total=args.steps,
            every=args.checkpoint_every,
            seconds=time.perf_counter() - began,
            time_limit=args.time_limit,
        ):
            break
    for name, model in models.items():
        model.eval()
        if averages:
            model.save_pretrained(args.out / f"{name}-raw")
            averages[f"{name}-ema"].save_pretrained(args.out / name)
        else:
            model.save_pretrained(args.out / name)
    summary = {
        "step": step,
        "steps": args.steps,
        "text_encoder": args.text_encoder,
        "text_encoder_weights": "text_encoder" if trained_text else None,
        "text_dim": text_dim,
        "vae_encoder": str(encoder_dir.resolve()) if encoder_dir else "default",
        "vae_decoder": str(decoder_dir.resolve()) if decoder_dir else "default",
        "frames": args.frames,
        "height": args.height,
        "width": args.width,
        "buckets": [list(size) for size in args.bucket_sizes],
        "bucket_weights": args.bucket_weights,
        "ema": args.ema,
    }
    atomic_write_text(args.out / "t2v.json", json.dumps(summary, indent=1) + "\n")
    print(f"wrote {', '.join(str(args.out / n) for n in models)} and t2v.json at step {step}", flush=True)
    return {"denoiser": denoiser, "text_encoder": text_encoder, **averages}


def main(argv: list[str] | None = None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    main()
