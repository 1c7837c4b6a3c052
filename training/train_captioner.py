"""Stage 4: train ``sora-understand:latent-captioner``'s detector on latents of the frozen VAE encoder.

Training clips are the scenes of a latent cache (``latent_cache.run_cache``: sora-synth scenes with the
held-out colour x shape x motion combinations excluded, encoded once by the shipped VAE encoder). Each
object is a target at the latent cell of its first-frame centre: a focal loss on objectness (a Gaussian
bump around the centre, 1 at its cell), an L1 loss on the sub-cell offset there, and cross-entropy on
its colour, shape, size and motion over the 3x3 cells around it; the background is a pooled
cross-entropy. Latents get a little Gaussian noise, so the detector also reads the softer latents of
generated or re-compressed clips. With ``--rough-rate R`` a share R of each batch comes from a second cache
of the same scenes made to look like a generator's output (``sora_synth.roughen``: objects larger or
slower, wobbling edges, smudges, ghosting, blur, colour casts, grain), so ``t2v``'s own videos can be
captioned too.
Seeded, logged to ``OUT/log.jsonl``, checkpointed and resumable like
the other stages; at the end it writes ``OUT/captioner`` and prints held-out accuracy::

    python -m training.train_captioner --out /tmp/runs/captioner --cache-clips 6000 --steps 3000
    python -m training.ship --captioner /tmp/runs/captioner
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sora_synth.roughen import render_rough
from sora_synth.scene import Scene, render_tensor
from sora_synth.splits import heldout_prompts
from torch import Tensor

from sora_core import registry
from sora_core.errors import SoraError
from training.checkpoints import checkpoint_if_due, resume_or_start
from training.latent_cache import Render, run_cache
from training.logging_utils import LossLog
from training.schedule import set_learning_rate, warmup_cosine
from training.t2v_objective import load_vae_encoder, resolve_vae

CAPTIONER = "sora-understand:latent-captioner"
FIXED = ("seed", "cache_clips", "batch", "lr", "two_object_rate", "captioner_config", "vae")
#: Options kept in the resume check only when set, so runs made before them still resume.
FIXED_WHEN_SET = ("rough_rate", "rough_p")
#: Seed stream of the held-out clips judged at the end (the benchmark uses its own).
_EVAL_STREAM = 0xCA97
_STEP_STREAM = 0xCA98
_ROUGH_STREAM = 0xCA99


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.train_captioner", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="run directory (keep it outside the repository)")
    parser.add_argument("--vae", default="default", help="training.train_vae's --out directory, or 'default'")
    parser.add_argument("--cache-clips", type=int, default=6000, help="training clips encoded once and reused")
    parser.add_argument("--two-object-rate", type=float, default=0.5, help="share of cached scenes with two objects")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--latent-noise", type=float, default=0.1, help="std of Gaussian noise added to latents")
    parser.add_argument(
        "--rough-rate", type=float, default=0.0, help="share of each batch drawn from roughened clips (0: none)"
    )
    parser.add_argument("--rough-p", type=float, default=0.5, help="probability of each artefact in a roughened clip")
    parser.add_argument("--captioner-config", default="{}", help="JSON config overrides of the captioner")
    parser.add_argument("--frames", type=int, default=9)
    parser.add_argument("--height", type=int, default=64)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--eval-clips", type=int, default=216, help="held-out-combination clips judged at the end")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--checkpoint-every", type=int, default=500)
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/latest.json")
    parser.add_argument("--time-limit", type=float, default=None, help="stop (checkpointed) after this many minutes")
    args = parser.parse_args(argv)
    if not 0 <= args.rough_rate <= 1 or not 0 < args.rough_p <= 1:
        parser.error(f"--rough-rate {args.rough_rate} and --rough-p {args.rough_p}: need 0 <= rate <= 1, 0 < p <= 1")
    if args.cache_clips < args.batch:
        parser.error(f"--cache-clips {args.cache_clips}: needs at least --batch ({args.batch}) clips")
    return args


def targets(captioner: Any, scenes: list[Scene], height: int, width: int) -> dict[str, Tensor]:
    """Per scene: objectness heat ``(h, w)``, attribute labels ``(4, h, w)`` (-100: no label), offsets
    ``(2, h, w)`` with their weight ``(h, w)``, and the background index."""
    vocabulary = captioner.vocabulary()
    count = len(scenes)
    heat = torch.zeros(count, height, width)
    labels = torch.full((count, 4, height, width), -100, dtype=torch.long)
    offsets = torch.zeros(count, 2, height, width)
    weight = torch.zeros(count, height, width)
    background = torch.tensor([vocabulary["backgrounds"].index(s.background) for s in scenes])
    rows, columns = torch.meshgrid(torch.arange(height).float(), torch.arange(width).float(), indexing="ij")
    for i, scene in enumerate(scenes):
        for obj in scene.objects:
            start = obj.keyframes[0]
            cx, cy = start.x * width - 0.5, start.y * height - 0.5
            heat[i] = torch.maximum(heat[i], torch.exp(-((columns - cx) ** 2 + (rows - cy) ** 2) / (2 * 0.8**2)))
            column, row = min(max(round(cx), 0), width - 1), min(max(round(cy), 0), height - 1)
            heat[i, row, column] = 1.0
            offsets[i, :, row, column] = torch.tensor([cx - column, cy - row])
            weight[i, row, column] = 1.0
            named = [
                vocabulary["colours"].index(obj.colour),
                vocabulary["shapes"].index(obj.shape),
                vocabulary["sizes"].index(obj.size) if obj.size in vocabulary["sizes"] else -100,
                vocabulary["motions"].index(obj.motion),
            ]
            labels[i, :, max(row - 1, 0) : row + 2, max(column - 1, 0) : column + 2] = torch.tensor(named)[
                :, None, None
            ]
    return {"heat": heat, "labels": labels, "offsets": offsets, "weight": weight, "background": background}


def rough_render(seed: int, p: float) -> Render:
    """Scene ``i``'s clip reshaped and roughened (``sora_synth.roughen``), the same for every run of ``seed``."""

    def render(index: int, scene: Scene, frames: int, height: int, width: int) -> Tensor:
        return render_rough(scene, np.random.default_rng([_ROUGH_STREAM, seed, index]), p, frames, height, width)

    return render


def detector_loss(captioner: Any, latent: Tensor, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
    """Focal objectness + offset L1 + attribute and background cross-entropy, and each part's value."""
    objectness, offsets, attributes, background = captioner.detector(latent)
    probability = objectness.sigmoid().clamp(1e-4, 1 - 1e-4)
    centre = batch["heat"] >= 1.0
    focal = -(
        ((1 - probability) ** 2 * probability.log()) * centre
        + ((1 - batch["heat"]) ** 4 * probability**2 * (1 - probability).log()) * ~centre
    ).sum() / centre.sum().clamp(min=1)
    offset = (F.l1_loss(offsets, batch["offsets"], reduction="none").sum(1) * batch["weight"]).sum()
    offset = offset / batch["weight"].sum().clamp(min=1)
    named = sum(
        F.cross_entropy(logits, batch["labels"][:, g], ignore_index=-100) for g, logits in enumerate(attributes)
    )
    ground = F.cross_entropy(background, batch["background"])
    loss = focal + offset + named + 0.5 * ground
    return loss, {
        "focal": focal.item(),
        "offset": offset.item(),
        "attributes": named.item(),
        "background": ground.item(),
    }


def evaluate(
    captioner: Any, vae_encoder: Any, clips: int, size: tuple[int, int, int] = (9, 64, 64)
) -> dict[str, float]:
    """Held-out-combination clips: how often each object's colour, shape and motion (matched by nearest first-
    frame centre) and each clip's object count and background come out right."""
    captioner.eval()
    prompts = heldout_prompts()
    right: dict[str, list[bool]] = {k: [] for k in ("colour", "shape", "motion", "count", "background")}
    for start in range(0, clips, 32):
        scenes = [
            prompts[i % len(prompts)].scene(np.random.default_rng([_EVAL_STREAM, i]), aspect=size[2] / size[1])
            for i in range(start, min(start + 32, clips))
        ]
        with torch.no_grad():
            latent = vae_encoder.moments(torch.stack([render_tensor(s, *size) for s in scenes]))[0]
            described = captioner.describe_latent(latent)
        for scene, found in zip(scenes, described, strict=True):
            right["count"].append(len(found.objects) == scene.count)
            right["background"].append(found.background == scene.background)
            for obj in scene.objects:
                x, y = obj.keyframes[0].x, obj.keyframes[0].y
                near = min(found.objects, key=lambda o: (o.x - x) ** 2 + (o.y - y) ** 2, default=None)
                right["colour"].append(near is not None and near.colour == obj.colour)
                right["shape"].append(near is not None and near.shape == obj.shape)
                right["motion"].append(near is not None and near.motion == obj.motion)
    captioner.train()
    return {k: float(np.mean(v)) for k, v in right.items()}


def train(args: argparse.Namespace) -> Any:
    """Run (or resume) stage 4; returns the trained captioner."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    try:
        vae_encoder = load_vae_encoder(args.vae)
        encoder_dir, _ = resolve_vae(args.vae)
        captioner = registry.create(CAPTIONER, **json.loads(args.captioner_config)).train()
    except SoraError as error:
        sys.exit(f"error: {error}")
    optimizer = torch.optim.AdamW(captioner.parameters(), lr=args.lr, weight_decay=1e-4)
    fixed = {name: getattr(args, name) for name in FIXED}
    fixed |= {name: getattr(args, name) for name in FIXED_WHEN_SET if args.rough_rate}
    root = args.out / "checkpoints"
    start = resume_or_start(root, {"captioner": captioner}, optimizer, fixed, resume=args.resume)
    log = LossLog(args.out / "log.jsonl", resume_step=start if args.resume else None)
    size = (args.frames, args.height, args.width)
    scenes, latents = run_cache(
        args.out, args.vae, vae_encoder, encoder_dir, args.seed, args.cache_clips, size, args.two_object_rate
    )
    rough = None
    if args.rough_rate:
        variant = (f"rough-p{args.rough_p:g}", rough_render(args.seed, args.rough_p))
        cache_args = (args.vae, vae_encoder, encoder_dir, args.seed, args.cache_clips, size, args.two_object_rate)
        _, rough = run_cache(args.out, *cache_args, variant)
    goals = targets(captioner, scenes, latents.shape[-2], latents.shape[-1])
    began = time.perf_counter()
    step = start
    while step < args.steps:
        lr = warmup_cosine(step, args.steps, args.lr, args.warmup)
        set_learning_rate(optimizer, lr)
        picks = torch.from_numpy(
            np.random.default_rng([_STEP_STREAM, args.seed, step]).integers(len(scenes), size=args.batch)
        )
        chosen = latents[picks]
        if rough is not None:
            roughs = torch.from_numpy(np.random.default_rng([_ROUGH_STREAM, args.seed, step]).random(args.batch))
            chosen = torch.where((roughs < args.rough_rate)[:, None, None, None, None], rough[picks], chosen)
        noise = torch.randn(chosen.shape, generator=torch.Generator().manual_seed(args.seed * 1_000_003 + step))
        batch = {k: v[picks] for k, v in goals.items()}
        loss, parts = detector_loss(captioner, chosen + args.latent_noise * noise, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(captioner.parameters(), 5.0)
        optimizer.step()
        step += 1
        if step % args.log_every == 0 or step == args.steps:
            record = log.write(step, lr=lr, loss=loss.item(), grad_norm=float(grad_norm), **parts)
            print(" ".join(f"{k}={v}" for k, v in record.items()), flush=True)
        if checkpoint_if_due(
            root,
            step,
            {"captioner": captioner},
            optimizer,
            fixed=fixed,
            total=args.steps,
            every=args.checkpoint_every,
            seconds=time.perf_counter() - began,
            time_limit=args.time_limit,
        ):
            break
    captioner.eval()
    captioner.save_pretrained(args.out / "captioner")
    print(f"wrote {args.out / 'captioner'} at step {step}", flush=True)
    if args.eval_clips:
        rates = evaluate(captioner, vae_encoder, args.eval_clips, size)
        print("held-out combinations: " + ", ".join(f"{k} {100 * v:.1f}%" for k, v in rates.items()), flush=True)
    return captioner


def main(argv: list[str] | None = None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    main()
