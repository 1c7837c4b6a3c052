"""bench_t2v_quality's breakdown by object count, on clips whose answer is known."""

from __future__ import annotations

import numpy as np
import torch
from sora_synth.evaluate import Agreement, score
from sora_synth.scene import render_tensor
from sora_synth.splits import heldout_prompts

NAME = "bench_t2v_quality"


def test_breakdown_counts_clips_by_objects_asked_and_finds_missing_objects(load_benchmark) -> None:
    prompts = heldout_prompts()
    one = next(p for p in prompts if len(p.objects) == 1)
    two = next(p for p in prompts if len(p.objects) == 2)
    agreement = Agreement()
    for prompt in (one, two):
        agreement.add(score(render_tensor(prompt.scene(np.random.default_rng(0))), prompt.text))
    agreement.add(score(torch.full((3, 9, 64, 64), -1.0), two.text))  # a black clip: no object at all

    lines = load_benchmark(NAME).breakdown(agreement)
    assert len(lines) == 2
    assert lines[0].startswith("  1 object(s) asked: 1 clips, all right 100.0%, too few objects   0.0%")
    assert lines[1].startswith("  2 object(s) asked: 2 clips, all right  50.0%, too few objects  50.0%")
