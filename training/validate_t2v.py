"""Choose the t2v sampler's guidance scale on validation prompts, never on the benchmark's held-out ones.

    python -m training.validate_t2v --guidance 2 3 4 6 --prompts 48
    python -m training.validate_t2v --denoiser /tmp/runs/t2v/denoiser --guidance 5 --shift 1 3   # a candidate
    python -m training.validate_t2v --guidance 4 --shift 3 --schedule none 0.91:2 --prompts 128 --first 64
    python -m training.validate_t2v --guidance 4 --shift 3 --candidates 1 4 --scorer /tmp/runs/scorer/scorer
    python -m training.validate_t2v --guidance 4 6 --shift 3 6 --size 25x64x64 --prompts 64   # a longer clip

Validation prompts are captions of training-distribution scenes (held-out colour/shape/motion triples and
templates excluded, as in training) drawn from a seed stream neither training nor the benchmark uses. Each is
generated with the shipped ``t2v`` pipeline (``--denoiser DIR``: with that trained denoiser instead) at every
``--guidance``, ``--steps``, ``--shift``, ``--interval``, ``--schedule`` and ``--candidates`` (latents sampled per
prompt and reranked by the scorer; ``--scorer DIR``: that trained scorer) and scored by
sora-synth's evaluator (``--size FRAMESxHEIGHTxWIDTH``: sampled at that size, scenes of its aspect ratio); the
table of per-attribute accuracy is printed, with how often each motion came out as asked, then the best setting.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections import Counter

import numpy as np
import torch
from sora_synth.evaluate import ATTRIBUTES, Agreement, score
from sora_synth.splits import training_example

from sora_core.errors import SoraError
from sora_core.pipeline import Pipeline
from training.t2v_objective import DENOISER
from training.train_scorer import SCORER

#: First entropy word of the validation prompts and seeds: a stream of its own.
VALIDATION = 0x7A1D


def validation_prompts(count: int, first: int = 0, aspect: float = 1.0) -> list[str]:
    """``count`` captions of training-distribution scenes (``aspect``: width over height) from the validation
    stream, from its ``first``."""
    return [
        training_example(np.random.default_rng([VALIDATION, i]), aspect=aspect)[1].text
        for i in range(first, first + count)
    ]


def t2v_pipeline(denoiser: str | None, scorer: str | None = None) -> Pipeline:
    """The shipped ``t2v`` pipeline, with the trained denoiser directory ``denoiser`` and the reranking scorer
    directory ``scorer`` when given (exits with a clear error when one is not such a directory)."""
    pipe = Pipeline.from_template("t2v", seed=0)
    for node, particle, weights in (("denoiser", DENOISER, denoiser), ("scorer", SCORER, scorer)):
        if weights:
            try:
                pipe.swap(node, particle, weights=weights)
            except SoraError as error:
                sys.exit(f"error: --{node} {weights}: {error}")
    return pipe


def accuracy(pipe: Pipeline, prompts: list[str]) -> Agreement:
    agreement = Agreement()
    for i, prompt in enumerate(prompts):
        video = pipe.run({"prompt": [prompt]}, seed=VALIDATION + i, progress=False)["video"]
        agreement.add(score(video[0], prompt))
    return agreement


def motion_rates(agreement: Agreement) -> str:
    """``"bouncing 4/12, down 17/17, ..."``: per motion asked, the prompt objects drawn with it (by the evaluator's
    pairing of prompt objects and tracks; an object with no track counts as wrong)."""
    right: Counter[str] = Counter()
    asked: Counter[str] = Counter()
    for result in agreement.scores:
        for wanted, track in zip(result.prompt.objects, result.matches, strict=True):
            if wanted.motion is None:
                continue
            asked[wanted.motion] += 1
            right[wanted.motion] += track is not None and result.tracks[track].attributes.motion == wanted.motion
    return ", ".join(f"{motion} {right[motion]}/{asked[motion]}" for motion in sorted(asked))


def parse_size(text: str, parser: argparse.ArgumentParser) -> tuple[int, int, int]:
    """``"25x64x64"`` -> ``(25, 64, 64)`` (frames, height, width); a malformed one is a usage error."""
    try:
        frames, height, width = (int(part) for part in text.lower().split("x"))
    except ValueError:
        parser.error(f"--size {text!r}: expected FRAMESxHEIGHTxWIDTH, such as 25x64x64")
    if min(frames, height, width) < 1:
        parser.error(f"--size {text!r}: frames, height and width must be positive")
    return frames, height, width


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training.validate_t2v", description=__doc__.split("\n\n")[0])
    parser.add_argument("--guidance", type=float, nargs="+", default=[2.0, 3.0, 4.0, 6.0])
    parser.add_argument("--steps", type=int, nargs="+", default=[20])
    parser.add_argument("--shift", type=float, nargs="+", default=[1.0], help="the scheduler's timestep shift")
    parser.add_argument(
        "--interval",
        nargs="+",
        default=["0:1"],
        help="guidance intervals LOW:HIGH of times where guidance applies (the sampler's guidance_interval)",
    )
    parser.add_argument(
        "--schedule",
        nargs="+",
        default=["none"],
        help="guidance schedules (the sampler's guidance_schedule): comma-separated TIME:SCALE pairs such as "
        "0.91:2, or 'none'",
    )
    parser.add_argument(
        "--candidates", type=int, nargs="+", default=[None], help="latents per prompt, reranked (the template's)"
    )
    parser.add_argument("--size", default=None, help="FRAMESxHEIGHTxWIDTH to sample at (the template's: 9x64x64)")
    parser.add_argument("--prompts", type=int, default=48)
    parser.add_argument("--first", type=int, default=0, help="index of the first validation prompt used")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--denoiser", default=None, help="a trained denoiser directory to validate instead")
    parser.add_argument("--scorer", default=None, help="a trained reranking scorer directory to use instead")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    intervals = [parse_interval(text, parser) for text in args.interval]
    schedules = [parse_schedule(text, parser) for text in args.schedule]
    size = parse_size(args.size, parser) if args.size else None
    prompts = validation_prompts(args.prompts, args.first, aspect=size[2] / size[1] if size else 1.0)
    pipe = t2v_pipeline(args.denoiser, args.scorer)
    if size is not None:
        pipe.configure("sampler", frames=size[0], height=size[1], width=size[2])
    shipped_candidates = pipe.nodes["sampler"].config.candidates
    rows = []
    grid = itertools.product(args.guidance, args.steps, args.shift, intervals, schedules, args.candidates)
    for guidance, steps, shift, interval, schedule, candidates in grid:
        candidates = candidates or shipped_candidates
        pipe.configure(
            "sampler",
            guidance_scale=guidance,
            steps=steps,
            guidance_interval=interval,
            guidance_schedule=schedule,
            candidates=candidates,
        )
        pipe.configure("scheduler", shift=shift)
        agreement = accuracy(pipe, prompts)
        rates = agreement.rates()
        low, high = interval
        pairs = ",".join(f"{time:g}:{scale:g}" for time, scale in schedule) or "none"
        setting = (
            f"guidance {guidance:4.1f} steps {steps:3d} shift {shift:4.1f} interval {low:.2f}:{high:.2f} "
            f"schedule {pairs} candidates {candidates}"
        )
        rows.append((rates["all"], setting))
        cells = "  ".join(f"{a} {100 * rates[a]:5.1f}%" for a in (*ATTRIBUTES, "all"))
        print(f"{setting}  {cells}\n  motions: {motion_rates(agreement)}", flush=True)
    best = max(rows, key=lambda row: row[0])
    print(f"best: {best[1]} ({100 * best[0]:.1f}% of clips right in every attribute)")


def parse_interval(text: str, parser: argparse.ArgumentParser) -> tuple[float, float]:
    """``"LOW:HIGH"`` -> ``(low, high)``; a malformed one ends the run with a usage error naming it."""
    try:
        low, high = (float(part) for part in text.split(":"))
    except ValueError:
        parser.error(f"--interval {text!r}: expected LOW:HIGH, two numbers in [0, 1] such as 0:0.8")
    if not 0.0 <= low <= high <= 1.0:
        parser.error(f"--interval {text!r}: needs 0 <= LOW <= HIGH <= 1")
    return low, high


def parse_schedule(text: str, parser: argparse.ArgumentParser) -> tuple[tuple[float, float], ...]:
    """``"0.91:2,0.5:3"`` -> ``((0.91, 2.0), (0.5, 3.0))``, ``"none"`` -> ``()``; a malformed one is a usage error."""
    if text == "none":
        return ()
    try:
        pairs = tuple((float(time), float(scale)) for time, scale in (pair.split(":") for pair in text.split(",")))
    except ValueError:
        parser.error(f"--schedule {text!r}: expected TIME:SCALE pairs separated by commas, such as 0.91:2")
    if any(not 0.0 <= time <= 1.0 or scale < 0.0 for time, scale in pairs):
        parser.error(f"--schedule {text!r}: each TIME must be in [0, 1] and each SCALE at least 0")
    return pairs


if __name__ == "__main__":
    main()
