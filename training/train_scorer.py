"""Stage 3: train the video-text scorer (``sora-dit:latent-text-scorer``) that the t2v sampler reranks with.

    python -m training.train_scorer --out /tmp/runs/scorer --cache-clips 6000 --steps 3000 --threads 2
    python -m training.train_scorer --out /tmp/runs/scorer --cache-clips 6000 --steps 3000 --threads 2 --resume

Training clips are encoded once by the frozen VAE (``--vae``, the shipped one by default; the cache of
``training.latent_cache``). Each step draws ``--batch`` cached latents and, for each, its caption and
``--negatives`` captions that get the clip wrong in one way (``training.mismatch``: a colour, shape or
motion, two objects' attributes swapped, an object dropped, added or copied; ``--kind-weight`` draws some
kinds more often), all in fresh training phrasing with training-only synonyms at ``--synonym-rate``,
embedded by the frozen MiniLM. Each latent is
first blurred towards noise by a random time up to ``--noise`` (``(1 - t) x + t e``), as sampled latents are
never quite clean. The loss is binary cross-entropy on the match logits, positives weighted as much as all
of a clip's negatives together, so scores are comparable across clips (what choosing between sampled
candidates needs), plus (``--attribute-weight``) a multi-label loss on the scorer's video-only head naming
the clip's colours, shapes, motions and whether it holds two objects: dense supervision that teaches the
video layers what to see far sooner than the match loss alone. Writes ``OUT/log.jsonl``, checkpoints, and
``OUT/scorer`` (``save_pretrained``), then prints how often the caption outscores each kind of mismatch on
clips of held-out combinations.
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
from sora_synth.captions import caption
from sora_synth.scene import Scene, render_tensor
from sora_synth.splits import TRAINING_TEMPLATES, heldout_prompts
from sora_synth.vocabulary import COLOURS, MOTIONS, SHAPES
from torch import Tensor

from sora_core import registry
from sora_core.errors import SoraError
from training.checkpoints import checkpoint_if_due, resume_or_start
from training.data import TRAIN
from training.latent_cache import run_cache
from training.logging_utils import LossLog
from training.mismatch import MISMATCHES, mismatch
from training.schedule import set_learning_rate, warmup_cosine
from training.synonyms import augment
from training.t2v_objective import MINILM, build_text_encoder, load_vae_encoder, resolve_vae

SCORER = "sora-dit:latent-text-scorer"
#: Where each colour, shape and motion sits in the attribute head's outputs; the last output is "two objects".
COLOURS_AT = {name: i for i, name in enumerate(COLOURS)}
SHAPES_AT = {name: len(COLOURS) + i for i, name in enumerate(SHAPES)}
MOTIONS_AT = {name: len(COLOURS) + len(SHAPES) + i for i, name in enumerate(MOTIONS)}
ATTRIBUTE_CLASSES = len(COLOURS) + len(SHAPES) + len(MOTIONS) + 1
#: Seed streams of the scorer's step draws and of its evaluation clips.
_STEP_STREAM, _EVAL_STREAM = 7, 8
#: Arguments a resumed run must share with the run it continues.
FIXED = (
    "seed",
    "batch",
    "negatives",
    "lr",
    "warmup",
    "weight_decay",
    "noise",
    "synonym_rate",
    "scorer_config",
    "attribute_weight",
    "vae",
    "cache_clips",
    "frames",
    "height",
    "width",
)


KINDS = tuple(sorted({kind for kinds in MISMATCHES.values() for kind in kinds}))


def _kind_weight(text: str) -> tuple[str, float]:
    kind, _, weight = text.partition("=")
    if kind not in KINDS:
        raise argparse.ArgumentTypeError(f"{text!r}: KIND=W with KIND one of {', '.join(KINDS)}")
    try:
        value = float(weight)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: W must be a number, as in motion=2") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: W must be above 0")
    return kind, value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.train_scorer", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="run directory (keep it outside the repository)")
    parser.add_argument("--vae", default="default", help="training.train_vae's --out directory, or 'default'")
    parser.add_argument("--cache-clips", type=int, default=6000, help="training clips encoded once and reused")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=32, help="clips per step")
    parser.add_argument("--negatives", type=int, default=3, help="mismatched captions per clip and step")
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--weight-decay", type=float, default=1e-2)
    parser.add_argument("--noise", type=float, default=0.3, help="largest time a latent is blurred towards noise")
    parser.add_argument("--synonym-rate", type=float, default=0.2, help="chance of a training-only synonym")
    parser.add_argument(
        "--attribute-weight",
        type=float,
        default=1.0,
        help="weight of the video-only head's loss naming the clip's colours, shapes, motions and count (0: none)",
    )
    parser.add_argument(
        "--kind-weight",
        type=_kind_weight,
        action="append",
        default=[],
        metavar="KIND=W",
        help=f"draw mismatches of KIND W times as often as a kind not named (repeatable; kinds: {', '.join(KINDS)})",
    )
    parser.add_argument("--scorer-config", default="{}", help="JSON config overrides of the scorer")
    parser.add_argument("--frames", type=int, default=9)
    parser.add_argument("--height", type=int, default=64)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--eval-clips", type=int, default=256, help="held-out-combination clips judged at the end")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--checkpoint-every", type=int, default=200)
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/latest.json")
    parser.add_argument("--time-limit", type=float, default=None, help="stop (checkpointed) after this many minutes")
    args = parser.parse_args(argv)
    if args.cache_clips < args.batch:
        parser.error(f"--cache-clips {args.cache_clips}: needs at least --batch ({args.batch}) clips")
    if not 0.0 <= args.noise < 1.0:
        parser.error(f"--noise {args.noise}: a time in [0, 1)")
    if args.negatives < 1:
        parser.error(f"--negatives {args.negatives}: at least one mismatched caption per clip")
    return args


def texts_for(
    scene: Scene, negatives: int, rng: np.random.Generator, kind_weights: dict[str, float] | None = None
) -> list[str]:
    """The scene's caption, then ``negatives`` captions of mismatched attributes (each of a random kind, drawn
    in proportion to ``kind_weights`` (1 for a kind not named; all equal when ``None``); a kind that finds no
    mismatch for this scene gives way to another)."""
    texts = [caption(scene, rng, templates=TRAINING_TEMPLATES).text]
    kinds = MISMATCHES[scene.count]
    odds = None
    if kind_weights:
        weights = np.array([kind_weights.get(kind, 1.0) for kind in kinds])
        odds = weights / weights.sum()
    while len(texts) < 1 + negatives:
        pick = int(rng.integers(len(kinds))) if odds is None else int(rng.choice(len(kinds), p=odds))
        wrong = mismatch(scene.attributes, kinds[pick], rng)
        if wrong is not None:
            texts.append(caption(wrong, rng, templates=TRAINING_TEMPLATES, background=scene.background).text)
    return texts


def scene_attributes(scene: Scene) -> Tensor:
    """``(ATTRIBUTE_CLASSES,)`` multi-hot: the colours, shapes and motions in ``scene``, and whether it holds two
    objects (what the scorer's video-only head learns to name)."""
    target = torch.zeros(ATTRIBUTE_CLASSES)
    for obj in scene.attributes:
        target[COLOURS_AT[obj.colour]] = 1.0
        target[SHAPES_AT[obj.shape]] = 1.0
        target[MOTIONS_AT[obj.motion]] = 1.0
    target[-1] = float(scene.count == 2)
    return target


def step_batch(
    args: argparse.Namespace, step: int, scenes: list[Scene], latents: Tensor
) -> tuple[Tensor, list[str], Tensor, Tensor]:
    """Step ``step``'s blurred latents (one row per clip), texts (``1 + negatives`` per clip), their labels and
    the clips' attributes: a pure function of seed and step."""
    rng = np.random.default_rng([TRAIN, args.seed, step, _STEP_STREAM])
    picks = rng.integers(len(scenes), size=args.batch)
    kind_weights = dict(args.kind_weight)
    texts = [
        augment(t, rng, args.synonym_rate)
        for i in picks
        for t in texts_for(scenes[i], args.negatives, rng, kind_weights)
    ]
    generator = torch.Generator().manual_seed(args.seed * 1_000_003 + step)
    clean = latents[torch.from_numpy(picks)]
    times = torch.rand(args.batch, generator=generator) * args.noise
    times = times.view(-1, *([1] * (clean.dim() - 1)))
    noisy = (1 - times) * clean + times * torch.randn(clean.shape, generator=generator)
    labels = torch.zeros(args.batch, 1 + args.negatives)
    labels[:, 0] = 1.0
    attributes = torch.stack([scene_attributes(scenes[i]) for i in picks])
    return noisy, texts, labels.flatten(), attributes


def score_texts(scorer: Any, text_encoder: Any, video: Tensor, texts: list[str]) -> Tensor:
    """The scorer's logits for each encoded video (``scorer.encode_videos``) against each of its texts (the
    same number of texts for every video, in order)."""
    with torch.no_grad():
        encoded = text_encoder(text=texts)
    per_video = len(texts) // video.shape[0]
    repeated = video.repeat_interleave(per_video, dim=0)
    return scorer.score_videos(repeated, encoded["embeddings"], encoded["mask"])


def pair_loss(logits: Tensor, labels: Tensor, negatives: int) -> Tensor:
    """Binary cross-entropy with each positive weighted like all ``negatives`` of its clip together."""
    weights = torch.where(labels > 0, float(negatives), 1.0)
    return F.binary_cross_entropy_with_logits(logits, labels, weight=weights) * 2 / (1 + negatives)


def build_scorer(vae_encoder: Any, seed: int, overrides: dict[str, Any], attributes: bool = True) -> Any:
    """A fresh scorer (seeded) for the VAE's latent space and MiniLM's tokens, with the attribute head when
    ``attributes``."""
    vae = vae_encoder.config
    torch.manual_seed(seed)
    settings = {"latent_channels": vae.latent_channels, "latent_space": vae.latent_space}
    settings |= {"text_dim": 384, "text_space": "text/minilm-l6@1"}
    settings |= {"attribute_classes": ATTRIBUTE_CLASSES if attributes else 0, **overrides}
    scorer = registry.create(SCORER, **settings)
    scorer.train()
    return scorer


@torch.no_grad()
def evaluate(
    scorer: Any, text_encoder: Any, vae_encoder: Any, clips: int, size: tuple[int, int, int] = (9, 64, 64)
) -> dict[str, float]:
    """How often a clip's caption outscores a mismatch of each kind, on clips of held-out combinations."""
    scorer.eval()
    prompts = heldout_prompts()
    wins: dict[str, list[bool]] = {}
    for i in range(clips):
        rng = np.random.default_rng([_EVAL_STREAM, i])
        scene = prompts[i % len(prompts)].scene(rng, aspect=size[2] / size[1])
        latent = vae_encoder.moments(render_tensor(scene, *size).unsqueeze(0))[0]
        for kind in MISMATCHES[scene.count]:
            wrong = mismatch(scene.attributes, kind, rng)
            if wrong is None:
                continue
            texts = [
                caption(scene, rng).text,
                caption(wrong, rng, background=scene.background).text,
            ]
            logits = score_texts(scorer, text_encoder, scorer.encode_videos(latent), texts)
            wins.setdefault(kind, []).append(bool(logits[0] > logits[1]))
    rates = {kind: float(np.mean(won)) for kind, won in sorted(wins.items())}
    rates["all"] = float(np.mean([w for won in wins.values() for w in won]))
    return rates


def train(args: argparse.Namespace) -> Any:
    """Run (or resume) stage 3; returns the trained scorer."""
    torch.set_num_threads(args.threads)
    try:
        vae_encoder = load_vae_encoder(args.vae)
        encoder_dir, _ = resolve_vae(args.vae)
        text_encoder = build_text_encoder(MINILM, args.seed)
        scorer = build_scorer(vae_encoder, args.seed, json.loads(args.scorer_config), args.attribute_weight > 0)
    except SoraError as error:
        sys.exit(f"error: {error}")
    optimizer = torch.optim.AdamW(scorer.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    fixed = {name: getattr(args, name) for name in FIXED}
    if args.kind_weight:  # only when given, so runs from before the option still resume
        fixed["kind_weight"] = dict(sorted(args.kind_weight))
    root = args.out / "checkpoints"
    start = resume_or_start(root, {"scorer": scorer}, optimizer, fixed, resume=args.resume)
    log = LossLog(args.out / "log.jsonl", resume_step=start if args.resume else None)
    size = (args.frames, args.height, args.width)
    scenes, latents = run_cache(args.out, args.vae, vae_encoder, encoder_dir, args.seed, args.cache_clips, size)
    began = time.perf_counter()
    step = start
    while step < args.steps:
        lr = warmup_cosine(step, args.steps, args.lr, args.warmup)
        set_learning_rate(optimizer, lr)
        latent, texts, labels, attributes = step_batch(args, step, scenes, latents)
        video = scorer.encode_videos(latent)
        logits = score_texts(scorer, text_encoder, video, texts)
        match_loss = pair_loss(logits, labels, args.negatives)
        loss = match_loss
        if args.attribute_weight:
            named = F.binary_cross_entropy_with_logits(scorer.video_attributes(video), attributes)
            loss = match_loss + args.attribute_weight * named
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(scorer.parameters(), 1.0)
        optimizer.step()
        step += 1
        if step % args.log_every == 0 or step == args.steps:
            ranked = logits.detach().view(args.batch, -1)
            top = float((ranked.argmax(dim=1) == 0).float().mean())
            record = log.write(
                step, lr=lr, loss=loss.item(), match=match_loss.item(), top1=top, grad_norm=float(grad_norm)
            )
            print(" ".join(f"{k}={v}" for k, v in record.items()), flush=True)
        if checkpoint_if_due(
            root,
            step,
            {"scorer": scorer},
            optimizer,
            fixed=fixed,
            total=args.steps,
            every=args.checkpoint_every,
            seconds=time.perf_counter() - began,
            time_limit=args.time_limit,
        ):
            break
    scorer.eval()
    scorer.save_pretrained(args.out / "scorer")
    print(f"wrote {args.out / 'scorer'} at step {step}", flush=True)
    if args.eval_clips:
        rates = evaluate(scorer, text_encoder, vae_encoder, args.eval_clips, size)
        cells = ", ".join(f"{kind} {100 * rate:.1f}%" for kind, rate in rates.items())
        print(f"caption outscores the mismatch, held-out combinations: {cells}", flush=True)
    return scorer


def main(argv: list[str] | None = None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    main()
