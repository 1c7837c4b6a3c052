"""bench_t2v_quality: its breakdown by object count (on clips whose answer is known), argument parsing, count
prompts, summary table and size contact sheet."""

from __future__ import annotations

import numpy as np
import pytest
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


def test_only_and_sizes_are_parsed_and_bad_values_refused(load_benchmark, capsys) -> None:
    bench = load_benchmark(NAME)
    args = bench.parse_args([])
    assert args.only == ("heldout", "paraphrases", "sizes", "counts")
    assert args.sizes == [(17, 64, 64), (25, 64, 64), (9, 64, 96), (9, 96, 64), (17, 96, 96)]
    args = bench.parse_args(["--only", "counts, sizes", "--sizes", "17x64x64,9X96X64"])
    assert args.only == ("sizes", "counts") and args.sizes == [(17, 64, 64), (9, 96, 64)]
    assert bench.parse_args(["--sizes", "none"]).sizes == []
    for argv, words in [
        (["--only", "heldout,sized"], "name rows of heldout, paraphrases, sizes, counts (not ['sized'])"),
        (["--sizes", "17x64"], "'17x64' is not FRAMESxHEIGHTxWIDTH"),
        (["--sizes", "0x64x64"], "'0x64x64' is not FRAMESxHEIGHTxWIDTH with positive numbers"),
        (["--sizes", "9x64x96,9x64x96"], "a size is named twice"),
        (["--only", "counts", "--sheet-sizes", "s.png"], "--sheet-sizes draws the sizes row's videos"),
        (["--sizes", "none", "--sheet-sizes", "s.png"], "--sheet-sizes draws the sizes row's videos"),
    ]:
        with pytest.raises(SystemExit):
            bench.parse_args(argv)
        assert words in capsys.readouterr().err


def test_count_prompts_read_as_two_objects_of_the_held_out_kinds(load_benchmark) -> None:
    from sora_dit.object_prompts import objects_asked, split_objects
    from sora_synth.captions import parse_prompt

    bench = load_benchmark(NAME)
    prompts = heldout_prompts()
    made = bench.count_prompts(prompts)
    kinds = {p.objects[0].triple() for p in prompts if len(p.objects) == 1}
    assert len(made) == len(kinds) and {p.objects[0].triple() for p in made} == kinds
    assert {p.template for p in made} == set(bench.COUNT_WORDINGS)
    assert made[0].text.startswith("two ") and made[1].text.startswith("a pair of ")
    for prompt in made:
        parsed = parse_prompt(prompt.text)
        assert [o.triple() for o in parsed.objects] == [prompt.objects[0].triple()] * 2, prompt.text
        assert parsed.background == prompt.background
        assert [objects_asked(layer) for layer in split_objects(prompt.text)] == [2], prompt.text


def test_the_summary_has_a_line_per_row_with_its_targets_and_verdict(load_benchmark) -> None:
    bench = load_benchmark(NAME)
    two = next(p for p in heldout_prompts() if len(p.objects) == 2)
    right = Agreement()
    right.add(score(render_tensor(two.scene(np.random.default_rng(0))), two.text))
    black = Agreement()
    black.add(score(torch.full((3, 9, 64, 64), -1.0), two.text))
    rows = [bench.Row("held-out", right, 1.5, bench.TARGETS), bench.Row("counts", black, 2.25, bench.COUNT_TARGETS)]
    header, held_out, counts = bench.summary(rows)
    assert header.split() == ["row", "colour", "shape", "motion", "count", "s/video", "result"]
    cells = ["100.0", "(>=90)", "100.0", "(>=70)", "100.0", "(>=85)", "100.0", "(>=85)"]
    assert held_out.split() == ["held-out", *cells, "1.50", "PASS"]
    assert counts.split() == ["counts", "0.0", "0.0", "0.0", "0.0", "(>=85)", "2.25", "FAIL"]


def test_the_size_sheet_pads_each_frame_and_row_to_the_largest(load_benchmark, tmp_path) -> None:
    bench = load_benchmark(NAME)
    short_wide, long_square = torch.zeros(3, 9, 64, 96), torch.ones(3, 17, 64, 64)
    frames, columns = bench.size_sheet([short_wide, long_square], scale=1)
    assert columns == 17 and frames.shape == (34, 64, 96, 3)
    assert (frames[9:17] == bench.PAD).all()  # the first row's missing frames
    assert (frames[17:, :, 64:] == bench.PAD).all() and (frames[17:, :, :64] == 255).all()
    assert (frames[:9] == 128).all()  # zeros are mid grey, no padding in the widest row
    path = tmp_path / "sizes.png"
    bench.write_size_sheet(path, [short_wide, long_square], [(9, 64, 96), (17, 64, 64)], "a red circle")
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert path.with_suffix(".txt").read_text() == "a red circle (seed 0)\n1. 9x64x96\n2. 17x64x64\n"
