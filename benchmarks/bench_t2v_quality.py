"""How well the text-to-video pipeline follows held-out prompts: per-attribute accuracy, read back by sora-synth.

Four rows, each generated with fixed seeds through the ``t2v`` pipeline and scored with
``sora_synth.evaluate.score`` (per-attribute accuracy with PASS/FAIL against each row's targets, and seconds per
video); ``--only`` runs some of them:

- ``heldout``: every held-out prompt (``heldout_prompts()``) at the template's size; targets colour >= 90 %,
  motion >= 85 %, shape >= 70 %, count >= 85 %;
- ``paraphrases``: the paraphrase prompts (``paraphrase_prompts()``: words never seen in training; they need a
  MiniLM-conditioned denoiser); targets colour >= 85 %, shape >= 80 %, motion >= 85 %, count >= 85 %;
- ``sizes``: the held-out prompts again at each size of ``--sizes`` (FRAMESxHEIGHTxWIDTH, default
  17x64x64,25x64x64,9x64x96,9x96x64,17x96x96; ``none`` skips), the sampler's frames, height and width set in
  the pipeline's spec; the held-out targets;
- ``counts``: two objects of one kind, one prompt per distinct (colour, shape, motion) of the single-object
  held-out prompts, worded with count words the prompt parser reads as two objects ("two red circles moving
  left", "a pair of ...", "a couple of ...", "two ..., both ..."); target count >= 85 %.

Before the held-out, paraphrase and size rows, the evaluator's own agreement on ground-truth clips (each prompt's
scene rendered by sora-synth at that size: it should be ~100 %). Last, a summary table: one line per row with its
rates, seconds per video and PASS/FAIL, then PASS only if every row run passed.

    .venv/bin/python benchmarks/bench_t2v_quality.py [--weights DIR|default] [--seeds 2] [--limit N] [--sheet X.png]
        [--candidates K] [--shift S] [--compute-dtype float32|bfloat16|auto] [--scorer DIR]
        [--only heldout,paraphrases,sizes,counts] [--sizes 17x64x64,...|none]
        [--sheet-sizes Y.png]

``--weights DIR`` is a ``training.train_t2v`` output directory (``denoiser/``, ``text_encoder/``, ``t2v.json``);
``default`` (the default) is the ``t2v`` template as shipped, with its trained weights. ``--paraphrase-weights
DIR`` names a MiniLM-trained run for the paraphrases when the pipeline of ``--weights`` is not conditioned on
MiniLM. ``--sheet`` writes a contact sheet: one row of 9 frames for each of ``--sheet-rows`` held-out prompts and
as many paraphrases (one-object and two-object prompts in turn), seed 0. ``--candidates K`` samples K latents per
video and keeps the one the reranking scorer rates highest (``--candidates 1``: no reranking); ``--scorer DIR``
uses those scorer weights. ``--sheet-sizes`` writes a contact sheet of one held-out prompt (seed 0) at every size
of ``--sizes``, one row per size, each frame padded with white to the largest size.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from sora_synth.evaluate import ATTRIBUTES, Agreement, score
from sora_synth.lexicon import TRAIN_MOTIONS
from sora_synth.scene import render_tensor
from sora_synth.splits import HeldoutPrompt, heldout_prompts, paraphrase_prompts
from sora_synth.vocabulary import ObjectAttributes

from sora_core import registry
from sora_core.atomic import atomic_write_text
from sora_core.errors import SoraError, SoraWarning
from sora_core.pipeline import Pipeline
from sora_core.video_io import to_frames, write_contact_sheet

TARGETS: dict[str, float] = {"colour": 0.90, "motion": 0.85, "shape": 0.70, "count": 0.85}
PARAPHRASE_TARGETS: dict[str, float] = {"colour": 0.85, "shape": 0.80, "motion": 0.85, "count": 0.85}
COUNT_TARGETS: dict[str, float] = {"count": 0.85}
ROWS: tuple[str, ...] = ("heldout", "paraphrases", "sizes", "counts")
DEFAULT_SIZES = "17x64x64,25x64x64,9x64x96,9x96x64,17x96x96"
#: Two-object wordings: sora_synth's parser and object-prompts both read each as two objects ("both" alone is
#: not one: object-prompts asks its layer for one object, so the compositor would keep only one).
COUNT_WORDINGS: tuple[str, ...] = (
    "two {colour} {shape}s {motion}",
    "a pair of {colour} {shape}s {motion}",
    "a couple of {colour} {shape}s {motion}",
    "two {colour} {shape}s, both {motion}",
)
#: The white a contact sheet's gaps are drawn in, and frames are padded with.
PAD = 255

Size = tuple[int, int, int]
MINILM = "sora-text:minilm-l6"
SCORER = "sora-dit:latent-text-scorer"
SAMPLER = "sora-dit:latent-sampler"
#: First entropy word of the ground-truth scenes and of the generation seeds (fixed: results are comparable).
GROUND_TRUTH, GENERATION = 0x6A7E, 0x9E4E


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", default="default", help="training.train_t2v output directory, or 'default'")
    parser.add_argument("--paraphrase-weights", default=None, help="a MiniLM-trained train_t2v output directory")
    parser.add_argument("--seeds", type=int, default=2, help="videos per prompt (seeds 0..N-1)")
    parser.add_argument("--steps", type=int, default=None, help="sampling steps (the template's)")
    parser.add_argument("--guidance", type=float, default=None, help="classifier-free guidance scale (template's)")
    parser.add_argument("--shift", type=float, default=None, help="the scheduler's timestep shift (the template's)")
    parser.add_argument(
        "--candidates", type=int, default=None, help="latents sampled per prompt and reranked (the template's)"
    )
    parser.add_argument("--scorer", default=None, help="scorer weights for reranking (a train_scorer run's scorer/)")
    parser.add_argument(
        "--compute-dtype",
        choices=("float32", "bfloat16", "auto"),
        default=None,
        help="the sampler's compute_dtype (the template's)",
    )
    parser.add_argument("--limit", type=int, default=None, help="only the first N prompts of each list (quick runs)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--sheet", type=Path, default=None, help="write a contact sheet of a few prompts (.png)")
    parser.add_argument("--sheet-rows", type=int, default=4, help="held-out prompts (and as many paraphrases) on it")
    parser.add_argument(
        "--only", default=",".join(ROWS), help=f"rows to run, comma-separated, of {','.join(ROWS)} (default all)"
    )
    parser.add_argument(
        "--sizes", default=DEFAULT_SIZES, help=f"FRAMESxHEIGHTxWIDTH sizes of the sizes row (default {DEFAULT_SIZES})"
    )
    parser.add_argument("--sheet-sizes", type=Path, default=None, help="write a contact sheet, a row per size (.png)")
    args = parser.parse_args(argv)
    try:
        args.only = parse_only(args.only)
        args.sizes = parse_sizes(args.sizes)
    except ValueError as error:
        parser.error(str(error))
    if args.sheet_sizes is not None and ("sizes" not in args.only or not args.sizes):
        parser.error("--sheet-sizes draws the sizes row's videos: run it (--only with sizes, --sizes not none)")
    return args


def parse_only(text: str) -> tuple[str, ...]:
    """``--only``: the rows named, in the order of :data:`ROWS`."""
    names = {name.strip() for name in text.split(",") if name.strip()}
    unknown = sorted(names - set(ROWS))
    if unknown or not names:
        raise ValueError(f"--only {text!r}: name rows of {', '.join(ROWS)}" + (f" (not {unknown})" if unknown else ""))
    return tuple(name for name in ROWS if name in names)


def parse_sizes(text: str) -> list[Size]:
    """``--sizes``: comma-separated FRAMESxHEIGHTxWIDTH (``none``: no size), each once."""
    if text.strip().lower() == "none":
        return []
    sizes = [parse_size(part) for part in text.split(",")]
    if len(set(sizes)) != len(sizes):
        raise ValueError(f"--sizes {text!r}: a size is named twice")
    return sizes


def parse_size(text: str) -> Size:
    """``17x64x96`` as ``(17, 64, 96)``: frames, height, width (the sampler checks what the VAE can make)."""
    parts = text.strip().lower().split("x")
    if len(parts) != 3 or not all(part.isdigit() and int(part) > 0 for part in parts):
        raise ValueError(f"--sizes: {text.strip()!r} is not FRAMESxHEIGHTxWIDTH with positive numbers, e.g. 17x64x96")
    frames, height, width = map(int, parts)
    return frames, height, width


def size_name(size: Size) -> str:
    return "x".join(map(str, size))


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
    size: Size | None = None,
    compute_dtype: str | None = None,
    shift: float | None = None,
) -> Pipeline:
    """The ``t2v`` pipeline, with the denoiser, text encoder and VAE decoder of a train_t2v run when given, the
    reranking scorer's weights and candidate count when given, and the sampler's frames, height and width set to
    ``size`` when given; exits with a clear error if it cannot be built."""
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
    if compute_dtype is not None:
        sampler["compute_dtype"] = compute_dtype
    if shift is not None:
        nodes["scheduler"]["config"] = {**nodes["scheduler"].get("config", {}), "shift": shift}
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
    if size is not None:
        sampler.update(zip(("frames", "height", "width"), size, strict=True))
    nodes["sampler"]["config"] = sampler
    try:
        return Pipeline.from_spec(data, base_dir=template.base_dir, seed=0)
    except SoraError as error:
        sys.exit(f"error: {error}")


def ground_truth(prompts: tuple[HeldoutPrompt, ...], size: Size = (9, 64, 64)) -> Agreement:
    """The evaluator on each prompt's own scene, laid out for ``size``'s aspect ratio and rendered at ``size`` by
    sora-synth (seeded per prompt)."""
    frames, height, width = size
    agreement = Agreement()
    for i, prompt in enumerate(prompts):
        scene = prompt.scene(np.random.default_rng([GROUND_TRUTH, i]), aspect=width / height)
        agreement.add(score(render_tensor(scene, frames, height, width), prompt.text))
    return agreement


def count_prompts(prompts: tuple[HeldoutPrompt, ...]) -> tuple[HeldoutPrompt, ...]:
    """Two objects of one kind for each distinct (colour, shape, motion) of the one-object ``prompts`` (on that
    prompt's background), the wordings of :data:`COUNT_WORDINGS` in turn and training's motion phrases."""
    kinds: dict[tuple[str | None, str | None, str | None], str] = {}
    for prompt in prompts:
        if len(prompt.objects) == 1:
            kinds.setdefault(prompt.objects[0].triple(), prompt.background)
    made = []
    for n, ((colour, shape, motion), background) in enumerate(kinds.items()):
        assert colour and shape and motion, "held-out prompts state every attribute"
        wording = COUNT_WORDINGS[n % len(COUNT_WORDINGS)]
        text = wording.format(colour=colour, shape=shape, motion=TRAIN_MOTIONS[motion].ing[0])
        kind = ObjectAttributes(colour=colour, shape=shape, motion=motion)
        made.append(HeldoutPrompt(f"{text} on a {background} background", (kind, kind), background, "count", wording))
    return tuple(made)


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
    and the seed-0 videos of the prompts at indices ``keep``, in that order. The pipeline's SoraWarnings (a size
    outside training, words never seen) are counted and the first printed once, not once per video."""
    agreement, seconds, kept = Agreement(), 0.0, {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SoraWarning)
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
    said = list(dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, SoraWarning)))
    if said:
        print(f"  {len(said)} distinct warning(s) while generating, the first: {said[0]}")
    return agreement, seconds / max(1, len(prompts) * seeds), [kept[i] for i in keep or ()]


class Row(NamedTuple):
    """One line of the summary: a row's agreement, seconds per video and targets (attribute -> least rate)."""

    name: str
    agreement: Agreement
    seconds: float
    targets: Mapping[str, float]

    @property
    def passed(self) -> bool:
        return all(self.agreement.rate(name) >= target for name, target in self.targets.items())


def summary(rows: list[Row]) -> list[str]:
    """The summary table: per row, each attribute's rate (its target in brackets), seconds per video, PASS/FAIL."""
    lines = [f"{'row':<12} " + " ".join(f"{name:>12}" for name in ATTRIBUTES) + f" {'s/video':>8}  result"]
    for row in rows:
        cells = []
        for name in ATTRIBUTES:
            target = row.targets.get(name)
            cells.append(f"{100 * row.agreement.rate(name):5.1f}" + (f" (>={100 * target:.0f})" if target else " " * 6))
        verdict = "PASS" if row.passed else "FAIL"
        lines.append(f"{row.name:<12} " + " ".join(f"{cell:>12}" for cell in cells) + f" {row.seconds:8.2f}  {verdict}")
    return lines


def report(label: str, agreement: Agreement, targets: Mapping[str, float] = TARGETS) -> bool:
    """Print accuracy per attribute (with each target and PASS/FAIL); whether every target is met."""
    print(f"{label} ({agreement.clips} clips)")
    passed = True
    for name in ATTRIBUTES:
        rate = agreement.rate(name)
        line = f"  {name:<7} {100 * rate:6.1f}%  ({agreement.right[name]}/{agreement.judged[name]})"
        if name in targets:
            ok = rate >= targets[name]
            passed &= ok
            line += f"  target >= {100 * targets[name]:.0f}%  {'PASS' if ok else 'FAIL'}"
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


def size_sheet(videos: list[torch.Tensor], scale: int = 2) -> tuple[np.ndarray, int]:
    """The frames of a contact sheet with one row per video (videos of any frame count and size): each frame
    padded with white to the largest height and width, each row to the most frames; and its columns."""
    rows = [to_frames(video, scale=scale) for video in videos]
    count = max(row.shape[0] for row in rows)
    height, width = max(row.shape[1] for row in rows), max(row.shape[2] for row in rows)
    sheet = np.full((len(rows), count, height, width, 3), PAD, np.uint8)
    for index, row in enumerate(rows):
        sheet[index, : row.shape[0], : row.shape[1], : row.shape[2]] = row
    return sheet.reshape(-1, height, width, 3), count


def write_size_sheet(path: Path, videos: list[torch.Tensor], sizes: list[Size], prompt: str) -> None:
    """:func:`size_sheet` as a PNG; the prompt and the sizes, row by row, in ``path`` with ``.txt``."""
    frames, columns = size_sheet(videos)
    write_contact_sheet(frames, path, columns=columns)
    lines = [f"{prompt} (seed 0)\n", *(f"{i + 1}. {size_name(size)}\n" for i, size in enumerate(sizes))]
    atomic_write_text(path.with_suffix(".txt"), "".join(lines))
    print(f"wrote {path} and {path.with_suffix('.txt')}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    heldout, paraphrases = heldout_prompts()[: args.limit], paraphrase_prompts()[: args.limit]
    counts = count_prompts(heldout_prompts())[: args.limit]
    steps = args.steps or "the template's"
    print(
        f"t2v quality: rows {', '.join(args.only)}; {len(heldout)} held-out, {len(paraphrases)} paraphrase and "
        f"{len(counts)} count prompts, {args.seeds} seed(s), {steps} sampling steps, weights {args.weights}"
    )
    check_sizes(args.sizes if "sizes" in args.only else [])
    rows: list[Row] = []
    pipe = build_pipeline(
        args.weights,
        args.steps,
        args.guidance,
        args.candidates,
        args.scorer,
        compute_dtype=args.compute_dtype,
        shift=args.shift,
    )
    candidates = pipe.nodes["sampler"].config.candidates
    print(f"{candidates} candidate(s) per video" + (", reranked by the scorer" if candidates > 1 else ""))
    text_encoder = pipe.spec.nodes["text_encoder"].particle
    if {"heldout", "paraphrases", "counts"} & set(args.only):
        pipe.run({"prompt": ["a red circle"]}, seed=0, progress=False)
    sheet: list[torch.Tensor] = []
    sheet_prompts: list[str] = []
    rows_on_sheet = args.sheet_rows if args.sheet else 0

    if "heldout" in args.only:
        report("evaluator on ground-truth clips, held-out prompts", ground_truth(heldout), targets={})
        keep = sheet_picks(heldout, rows_on_sheet)
        agreement, per_video, sheet = generate(pipe, heldout, args.seeds, keep)
        report(f"generated, held-out prompts (text encoder {text_encoder})", agreement)
        print(f"  {per_video:.2f} s per video ({torch.get_num_threads()} thread(s))")
        rows.append(Row("held-out", agreement, per_video, TARGETS))
        sheet_prompts = [heldout[i].text for i in keep]

    if "paraphrases" in args.only:
        report("evaluator on ground-truth clips, paraphrase prompts", ground_truth(paraphrases), targets={})
        para = paraphrase_pipeline(args, pipe, text_encoder)
        if para is not None:
            keep = sheet_picks(paraphrases, rows_on_sheet)
            agreement, per_video, kept = generate(para, paraphrases, args.seeds, keep)
            report(f"generated, paraphrase prompts (text encoder {MINILM})", agreement, PARAPHRASE_TARGETS)
            print(f"  {per_video:.2f} s per video")
            rows.append(Row("paraphrases", agreement, per_video, PARAPHRASE_TARGETS))
            sheet += kept
            sheet_prompts += [paraphrases[i].text for i in keep]

    size_videos: list[torch.Tensor] = []
    for size in args.sizes if "sizes" in args.only else []:
        name = size_name(size)
        report(f"evaluator on ground-truth clips, held-out prompts at {name}", ground_truth(heldout, size), {})
        sized = build_pipeline(
            args.weights, args.steps, args.guidance, args.candidates, args.scorer, size, args.compute_dtype, args.shift
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SoraWarning)  # generate() reports the size warning once
            sized.run({"prompt": ["a red circle"]}, seed=0, progress=False)
        agreement, per_video, kept = generate(sized, heldout, args.seeds, [0])
        report(f"generated, held-out prompts at {name}", agreement)
        print(f"  {per_video:.2f} s per video at {name}")
        rows.append(Row(name, agreement, per_video, TARGETS))
        size_videos += kept

    if "counts" in args.only:
        agreement, per_video, _ = generate(pipe, counts, args.seeds)
        report("generated, two objects of one kind (count words)", agreement, COUNT_TARGETS)
        print(f"  {per_video:.2f} s per video")
        rows.append(Row("counts", agreement, per_video, COUNT_TARGETS))

    if args.sheet and sheet:
        write_sheet(args.sheet, sheet, sheet_prompts)
    elif args.sheet:
        print(f"{args.sheet}: not written (no held-out or paraphrase videos were generated)")
    if args.sheet_sizes:
        write_size_sheet(args.sheet_sizes, size_videos, args.sizes, heldout[0].text)
    print("summary (rates in %, targets in brackets)")
    for line in summary(rows):
        print(line)
    print("PASS" if all(row.passed for row in rows) else "FAIL")


def check_sizes(sizes: list[Size]) -> None:
    """Exit with the sampler's own error for a size it cannot sample, before anything is generated."""
    for size in sizes:
        try:
            registry.create(SAMPLER, **dict(zip(("frames", "height", "width"), size, strict=True)))
        except SoraError as error:
            sys.exit(f"error: --sizes {size_name(size)}: {error}")


def paraphrase_pipeline(args: argparse.Namespace, pipe: Pipeline, text_encoder: str) -> Pipeline | None:
    """The pipeline for the paraphrases: ``pipe`` when conditioned on MiniLM, else ``--paraphrase-weights``'s
    (``None``, said, when there is none)."""
    if text_encoder == MINILM:
        return pipe
    if args.paraphrase_weights is None:
        print(
            "generated, paraphrase prompts: not available (needs a MiniLM-conditioned denoiser: "
            "train one with --text-encoder sora-text:minilm-l6 and pass it as --weights or --paraphrase-weights)"
        )
        return None
    if run_info(args.paraphrase_weights)["text_encoder"] != MINILM:
        sys.exit(f"error: {args.paraphrase_weights} was not trained on {MINILM}")
    return build_pipeline(
        args.paraphrase_weights,
        args.steps,
        args.guidance,
        args.candidates,
        args.scorer,
        compute_dtype=args.compute_dtype,
        shift=args.shift,
    )


if __name__ == "__main__":
    main()
