"""How well the text-to-video pipeline follows held-out prompts: per-attribute accuracy, read back by sora-synth.

First the evaluator's own agreement on ground-truth clips (each held-out and paraphrase prompt's scene rendered
by sora-synth: it should be ~100 %), then every held-out prompt (``heldout_prompts()``) generated with fixed seeds
through the ``t2v`` pipeline and scored with ``sora_synth.evaluate.score``: accuracy per attribute against the
targets (colour >= 90 %, motion >= 85 %, shape >= 70 %, count >= 85 %) with PASS/FAIL, then the same figures
for the paraphrase prompts (``paraphrase_prompts()``: words never seen in training, reported separately and
without targets; they need a MiniLM-conditioned denoiser), and seconds per video.

    .venv/bin/python benchmarks/bench_t2v_quality.py [--weights DIR|default] [--seeds 2] [--limit N] [--sheet X.png]
        [--candidates K] [--scorer DIR]

``--weights DIR`` is a ``training.train_t2v`` output directory (``denoiser/``, ``text_encoder/``, ``t2v.json``);
``default`` (the default) is the ``t2v`` template as shipped, with its trained weights. ``--paraphrase-weights
DIR`` names a MiniLM-trained run for the paraphrases when the pipeline of ``--weights`` is not conditioned on
MiniLM. ``--sheet`` writes a contact sheet: one row of 9 frames for each of ``--sheet-rows`` held-out prompts and
as many paraphrases (one-object and two-object prompts in turn), seed 0. ``--candidates K`` samples K latents per
video and keeps the one the reranking scorer rates highest (``--candidates 1``: no reranking); ``--scorer DIR``
uses those scorer weights.
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
from sora_synth.evaluate import ATTRIBUTES, Agreement, score
from sora_synth.scene import render_tensor
from sora_synth.splits import HeldoutPrompt, heldout_prompts, paraphrase_prompts

from sora_core import registry
from sora_core.atomic import atomic_write_text
from sora_core.errors import SoraError
from sora_core.pipeline import Pipeline
from sora_core.video_io import to_frames, write_contact_sheet

TARGETS: dict[str, float] = {"colour": 0.90, "motion": 0.85, "shape": 0.70, "count": 0.85}
MINILM = "sora-text:minilm-l6"
SCORER = "sora-dit:latent-text-scorer"
#: First entropy word of the ground-truth scenes and of the generation seeds (fixed: results are comparable).
GROUND_TRUTH, GENERATION = 0x6A7E, 0x9E4E


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", default="default", help="training.train_t2v output directory, or 'default'")
    parser.add_argument("--paraphrase-weights", default=None, help="a MiniLM-trained train_t2v output directory")
    parser.add_argument("--seeds", type=int, default=2, help="videos per prompt (seeds 0..N-1)")
    parser.add_argument("--steps", type=int, default=None, help="sampling steps (the template's)")
    parser.add_argument("--guidance", type=float, default=None, help="classifier-free guidance scale (template's)")
    parser.add_argument(
        "--candidates", type=int, default=None, help="latents sampled per prompt and reranked (the template's)"
    )
    parser.add_argument("--scorer", default=None, help="scorer weights for reranking (a train_scorer run's scorer/)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N prompts of each list (quick runs)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--sheet", type=Path, default=None, help="write a contact sheet of a few prompts (.png)")
    parser.add_argument("--sheet-rows", type=int, default=4, help="held-out prompts (and as many paraphrases) on it")
    return parser.parse_args(argv)


def run_info(weights: str) -> dict[str, Any] | None:
    """``t2v.json`` of a train_t2v run directory (``None`` for ``default``); exits with a clear error otherwise."""
    if weights == "default":
        return None
    path = Path(weights) / "t2v.json"
    if not path.is_file():
        sys.exit(f"error: {weights} is not a training.train_t2v output directory (no {path})")
    return json.loads(path.read_text())


def build_pipeline(
    weights: str,
    steps: int | None,
    guidance: float | None,
    candidates: int | None = None,
    scorer: str | None = None,
) -> Pipeline:
    """The ``t2v`` pipeline, with the denoiser, text encoder and VAE decoder of a train_t2v run when given, and
    the reranking scorer's weights and candidate count when given; exits with a clear error if it cannot be
    built."""
    template = Pipeline.from_template("t2v", materialize=False)
    data = template.spec.to_data()
    nodes = data["nodes"]
    sampler: dict[str, Any] = dict(nodes["sampler"].get("config", {}))
    if steps is not None:
        sampler["steps"] = steps
    if guidance is not None:
        sampler["guidance_scale"] = guidance
    if candidates is not None:
        sampler["candidates"] = candidates
    if scorer is not None:
        nodes["scorer"] = {"particle": SCORER, "weights": str(Path(scorer).resolve())}
        nodes["sampler"].setdefault("components", {})["scorer"] = "scorer"
    info = run_info(weights)
    if info is not None:
        root = Path(weights)
        nodes["denoiser"] = {"particle": "sora-dit:dit-denoiser", "weights": str((root / "denoiser").resolve())}
        if info["text_encoder_weights"]:
            text = {"particle": info["text_encoder"], "weights": str((root / info["text_encoder_weights"]).resolve())}
            nodes["text_encoder"] = text
        else:
            nodes["text_encoder"] = {"particle": info["text_encoder"]}
        denoiser = registry.load("sora-dit:dit-denoiser", weights=root / "denoiser").config
        sampler.update(
            text_dim=denoiser.text_dim,
            text_space=denoiser.text_space,
            latent_channels=denoiser.latent_channels,
            frames=info["frames"],
            height=info["height"],
            width=info["width"],
        )
        if info["vae_decoder"] != "default":
            nodes["decoder"] = {"particle": "sora-vae:causal-vae-decoder", "weights": info["vae_decoder"]}
            vae = registry.load("sora-vae:causal-vae-decoder", weights=info["vae_decoder"]).config
            sampler.update(temporal_compression=vae.temporal_compression, spatial_compression=vae.spatial_compression)
    nodes["sampler"]["config"] = sampler
    try:
        return Pipeline.from_spec(data, base_dir=template.base_dir, seed=0)
    except SoraError as error:
        sys.exit(f"error: {error}")


def ground_truth(prompts: tuple[HeldoutPrompt, ...]) -> Agreement:
    """The evaluator on each prompt's own scene, rendered by sora-synth (seeded per prompt)."""
    agreement = Agreement()
    for i, prompt in enumerate(prompts):
        scene = prompt.scene(np.random.default_rng([GROUND_TRUTH, i]))
        agreement.add(score(render_tensor(scene), prompt.text))
    return agreement


def sheet_picks(prompts: tuple[HeldoutPrompt, ...], rows: int) -> list[int]:
    """Indices of ``rows`` prompts for the contact sheet: one-object and two-object prompts in turn, each
    group's picks spread evenly over it (so the sheet shows different colours, shapes and motions)."""
    groups: dict[int, list[int]] = {}
    for i, prompt in enumerate(prompts):
        groups.setdefault(len(prompt.objects), []).append(i)
    shares = [rows // len(groups) + (g < rows % len(groups)) for g in range(len(groups))]
    spread = []
    for share, (_, members) in zip(shares, sorted(groups.items()), strict=True):
        share = min(share, len(members))
        spread.append([members[round(j * (len(members) - 1) / max(1, share - 1))] for j in range(share)])
    return [picks[j] for j in range(max(map(len, spread), default=0)) for picks in spread if j < len(picks)]


def generate(
    pipe: Pipeline, prompts: tuple[HeldoutPrompt, ...], seeds: int, keep: list[int] | None = None
) -> tuple[Agreement, float, list[torch.Tensor]]:
    """Each prompt generated with seeds ``0..seeds-1`` (one video per run) and scored; mean seconds per video,
    and the seed-0 videos of the prompts at indices ``keep``, in that order."""
    agreement, seconds, kept = Agreement(), 0.0, {}
    for i, prompt in enumerate(prompts):
        for seed in range(seeds):
            began = time.perf_counter()
            video = pipe.run(
                {"prompt": [prompt.text]},
                seed=int(np.random.SeedSequence([GENERATION, i, seed]).generate_state(1)[0]),
                progress=False,
            )["video"]
            seconds += time.perf_counter() - began
            agreement.add(score(video[0], prompt.text))
            if seed == 0 and i in (keep or ()):
                kept[i] = video[0]
    return agreement, seconds / max(1, len(prompts) * seeds), [kept[i] for i in keep or ()]


def report(label: str, agreement: Agreement, targets: bool = True) -> bool:
    """Print accuracy per attribute (with targets and PASS/FAIL); whether every target is met."""
    print(f"{label} ({agreement.clips} clips)")
    passed = True
    for name in ATTRIBUTES:
        rate = agreement.rate(name)
        line = f"  {name:<7} {100 * rate:6.1f}%  ({agreement.right[name]}/{agreement.judged[name]})"
        if targets:
            ok = rate >= TARGETS[name]
            passed &= ok
            line += f"  target >= {100 * TARGETS[name]:.0f}%  {'PASS' if ok else 'FAIL'}"
        print(line)
    print(f"  all     {100 * agreement.rate('all'):6.1f}%  (every attribute of a clip right)")
    for line in breakdown(agreement):
        print(line)
    return passed


def breakdown(agreement: Agreement) -> list[str]:
    """By how many objects the prompt asks for: clips, all-right rate, and too few / too many objects found."""
    lines = []
    for asked in sorted({len(s.prompt.objects) for s in agreement.scores}):
        scores = [s for s in agreement.scores if len(s.prompt.objects) == asked]
        right = sum(s.all for s in scores)
        fewer = sum(len(s.tracks) < asked for s in scores)
        more = sum(len(s.tracks) > asked for s in scores)
        lines.append(
            f"  {asked} object(s) asked: {len(scores)} clips, all right {100 * right / len(scores):5.1f}%, "
            f"too few objects {100 * fewer / len(scores):5.1f}%, too many {100 * more / len(scores):5.1f}%"
        )
    return lines


def write_sheet(path: Path, videos: list[torch.Tensor], prompts: list[str]) -> None:
    """One row of frames per video, 2x enlarged; the prompts, row by row, in ``path`` with ``.txt``."""
    frames = np.concatenate([to_frames(video, scale=2) for video in videos])
    write_contact_sheet(frames, path, columns=frames.shape[0] // len(videos))
    atomic_write_text(path.with_suffix(".txt"), "".join(f"{i + 1}. {p}\n" for i, p in enumerate(prompts)))
    print(f"wrote {path} and {path.with_suffix('.txt')}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    heldout, paraphrases = heldout_prompts()[: args.limit], paraphrase_prompts()[: args.limit]
    steps = args.steps or "the template's"
    print(
        f"t2v quality: {len(heldout)} held-out and {len(paraphrases)} paraphrase prompts, {args.seeds} seed(s), "
        f"{steps} sampling steps, weights {args.weights}"
    )
    report("evaluator on ground-truth clips, held-out prompts", ground_truth(heldout), targets=False)
    report("evaluator on ground-truth clips, paraphrase prompts", ground_truth(paraphrases), targets=False)

    pipe = build_pipeline(args.weights, args.steps, args.guidance, args.candidates, args.scorer)
    candidates = pipe.nodes["sampler"].config.candidates
    print(f"{candidates} candidate(s) per video" + (", reranked by the scorer" if candidates > 1 else ""))
    text_encoder = pipe.spec.nodes["text_encoder"].particle
    rows = args.sheet_rows if args.sheet else 0
    keep = sheet_picks(heldout, rows)
    pipe.run({"prompt": ["warm-up"]}, seed=0, progress=False)
    agreement, per_video, sheet = generate(pipe, heldout, args.seeds, keep)
    passed = report(f"generated, held-out prompts (text encoder {text_encoder})", agreement)
    print(f"  {per_video:.2f} s per video ({torch.get_num_threads()} thread(s))")
    sheet_prompts = [heldout[i].text for i in keep]

    if text_encoder != MINILM:
        if args.paraphrase_weights is None:
            print(
                "generated, paraphrase prompts: not available (needs a MiniLM-conditioned denoiser: "
                "train one with --text-encoder sora-text:minilm-l6 and pass it as --weights or --paraphrase-weights)"
            )
            pipe = None
        else:
            if run_info(args.paraphrase_weights)["text_encoder"] != MINILM:
                sys.exit(f"error: {args.paraphrase_weights} was not trained on {MINILM}")
            pipe = build_pipeline(args.paraphrase_weights, args.steps, args.guidance, args.candidates, args.scorer)
    if pipe is not None:
        keep = sheet_picks(paraphrases, rows)
        agreement, per_video, kept = generate(pipe, paraphrases, args.seeds, keep)
        report(f"generated, paraphrase prompts (text encoder {MINILM}; reported, no targets)", agreement, False)
        print(f"  {per_video:.2f} s per video")
        sheet += kept
        sheet_prompts += [paraphrases[i].text for i in keep]
    if args.sheet:
        write_sheet(args.sheet, sheet, sheet_prompts)
    print("PASS" if passed else "FAIL")


if __name__ == "__main__":
    main()
