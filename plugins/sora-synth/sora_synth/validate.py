"""Validate the evaluator on ground truth: ``python -m sora_synth.validate [--clips 500]``.

Renders ground-truth clips for the held-out prompts (a fresh scene per clip: the prompt's
objects and background, drawn positions and speeds), for the paraphrase prompts and for the
training stream, scores each against its own caption -- clean and under each degradation of
:data:`sora_synth.degrade.DEGRADATIONS` -- and prints the per-attribute agreement. Exits 1 when
any attribute agrees on fewer than 98% of the clean clips.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from sora_synth.degrade import DEGRADATIONS
from sora_synth.evaluate import ATTRIBUTES, Agreement, score
from sora_synth.scene import render_tensor
from sora_synth.splits import HeldoutPrompt, heldout_prompts, paraphrase_prompts, training_example

__all__ = ["REQUIRED", "ground_truth", "main", "validate"]

#: The agreement every attribute must reach on clean ground truth.
REQUIRED = 0.98

Degradation = Callable[[torch.Tensor, int], torch.Tensor]


def ground_truth(
    source: str, clips: int, *, seed: int = 0, frames: int = 9, height: int = 64, width: int = 64
) -> list[tuple[torch.Tensor, str]]:
    """``clips`` rendered clips with their prompts: ``source`` is ``heldout``, ``paraphrase`` or ``training``."""
    rng = np.random.default_rng([seed, ("heldout", "paraphrase", "training").index(source)])
    aspect = width / height
    out = []
    prompts: Sequence[HeldoutPrompt] = heldout_prompts() if source == "heldout" else paraphrase_prompts()
    for index in range(clips):
        if source == "training":
            scene, written = training_example(rng, aspect=aspect)
            text = written.text
        else:
            prompt = prompts[index % len(prompts)]
            scene, text = prompt.scene(rng, aspect), prompt.text
        out.append((render_tensor(scene, frames, height, width), text))
    return out


def validate(
    clips: Sequence[tuple[torch.Tensor, str]], conditions: dict[str, Degradation | None] | None = None
) -> dict[str, Agreement]:
    """Score every clip against its prompt under each condition (``None``: the clip as it is)."""
    conditions = {"clean": None, **DEGRADATIONS} if conditions is None else conditions
    results = {}
    for name, degrade in conditions.items():
        agreement = Agreement()
        for index, (video, text) in enumerate(clips):
            agreement.add(score(video if degrade is None else degrade(video, index), text))
        results[name] = agreement
    return results


def _render_speed(repeats: int = 300) -> float:
    """Milliseconds to sample, caption and render one 9x64x64 training clip."""
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(repeats):
        scene, _ = training_example(rng)
        render_tensor(scene)
    return (time.perf_counter() - start) / repeats * 1e3


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sora_synth.validate", description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=500, help="held-out clips per condition (default 500)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--frames", type=int, default=9)
    parser.add_argument("--height", type=int, default=64)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--failures", type=int, default=5, help="clean failures to show per set (default 5)")
    args = parser.parse_args(argv)
    size = {"seed": args.seed, "frames": args.frames, "height": args.height, "width": args.width}

    print(f"sampling, captioning and rendering a 9x64x64 clip: {_render_speed():.2f} ms")
    print(f"agreement of the evaluator with ground truth, {args.frames}x{args.height}x{args.width}:")
    ok = True
    sets = {
        "held-out": ground_truth("heldout", args.clips, **size),
        "paraphrase": ground_truth("paraphrase", max(1, args.clips // 2), **size),
        "training": ground_truth("training", max(1, args.clips // 2), **size),
    }
    for set_name, clips in sets.items():
        conditions: dict[str, Degradation | None] = {"clean": None}
        if set_name == "held-out":
            conditions.update(DEGRADATIONS)
        start = time.perf_counter()
        results = validate(clips, conditions)
        elapsed = (time.perf_counter() - start) / (len(clips) * len(conditions)) * 1e3
        for condition, agreement in results.items():
            print(agreement.format(f"{set_name}, {condition}"))
        clean = results["clean"]
        for failure in clean.failures()[: args.failures]:
            found = "; ".join(t.attributes.describe() for t in failure.tracks) or "nothing"
            print(f"    failed: {failure.prompt.text!r} -> found {found}")
        low = [name for name in ATTRIBUTES if clean.rate(name) < REQUIRED]
        if low:
            ok = False
            print(f"    below {REQUIRED:.0%} on clean {set_name} clips: {', '.join(low)}")
        print(f"    ({elapsed:.1f} ms per clip scored, degradation included)")
    print("clean agreement >= 98% on every attribute" if ok else "FAILED: clean agreement below 98%")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
