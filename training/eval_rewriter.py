"""How often the prompt rewriter reads each attribute right, on prompts whose attributes are known.

    python -m training.eval_rewriter [--set heldout dev paraphrases] [--show-wrong]
    python -m training.eval_rewriter --words      # the calibration words of training/rewriter_dev_words.py

Sets: ``heldout`` (sora-synth's held-out prompts, training words: the rewriter should keep them),
``dev`` (validation scenes reworded with :mod:`training.validate_paraphrases`' third vocabulary, words
neither in training captions nor in the evaluation paraphrases) and ``paraphrases`` (the benchmark's
evaluation-only paraphrases: measured here, never used to build or tune the rewriter). Each prompt's objects
as the rewriter writes them (sora-synth's parser reading the rewritten text) are compared with the objects the
prompt was written for, attribute by attribute; count compares how many objects there are.
"""

from __future__ import annotations

import argparse
from collections import Counter

import torch
from sora_synth.captions import parse_prompt
from sora_synth.splits import heldout_prompts, paraphrase_prompts

from sora_core import registry
from training.rewriter_dev_words import COLOUR_WORDS, MOTION_PHRASES, NOT_MOTIONS, SHAPE_NOUNS
from training.validate_paraphrases import dev_prompts

ATTRIBUTES = ("colour", "shape", "motion", "count")


def prompt_sets(names: list[str]) -> dict[str, list[tuple[str, list[tuple[str, str, str]]]]]:
    """Each set as (prompt, the (colour, shape, motion) of each object it was written for)."""
    sets: dict[str, list[tuple[str, list[tuple[str, str, str]]]]] = {}
    triples = lambda objects: [(o.colour, o.shape, o.motion) for o in objects]  # noqa: E731
    if "heldout" in names:
        sets["heldout"] = [(p.text, triples(p.objects)) for p in heldout_prompts()]
    if "dev" in names:
        rows = []
        for reworded, original in dev_prompts(96):
            rows.append((reworded, triples(parse_prompt(original).objects)))
        sets["dev"] = rows
    if "paraphrases" in names:
        sets["paraphrases"] = [(p.text, triples(p.objects)) for p in paraphrase_prompts()]
    return sets


def score(rewriter: object, rows: list[tuple[str, list[tuple[str, str, str]]]], show: bool) -> Counter[str]:
    right: Counter[str] = Counter()
    for prompt, wanted in rows:
        written = rewriter.rewrite(prompt)["rewritten"]  # type: ignore[attr-defined]
        got = [(o.colour, o.shape, o.motion) for o in parse_prompt(written).objects]
        right["count"] += len(got) == len(wanted)
        for i, name in enumerate(ATTRIBUTES[:3]):
            ok = sorted(str(g[i]) for g in got) == sorted(str(w[i]) for w in wanted)
            right[name] += ok
            if show and not ok:
                print(f"  {name}: {prompt!r} -> {written!r}")
        right["prompts"] += 1
    return right


def word_placement(rewriter: object, show: bool = False) -> None:
    """How the rewriter places the calibration words: a noun as "a red NOUN", a motion as "a red circle PHRASE",
    a colour word as "a WORD circle"; per target: right, wrong, unplaced."""

    def read(prompt: str, attribute: str) -> str | None:
        report = rewriter.rewrite(prompt)  # type: ignore[attr-defined]
        return next((r["value"] for r in report["read"] if r["as"] == attribute), None)

    checks = [
        ("shape", SHAPE_NOUNS, "a red {}"),
        ("motion", {**MOTION_PHRASES, None: NOT_MOTIONS}, "a red circle {}"),
        ("colour", COLOUR_WORDS, "a {} circle"),
    ]
    for attribute, table, pattern in checks:
        tally: Counter[str] = Counter()
        for wanted, words in table.items():
            for word in words:
                got = read(pattern.format(word), attribute)
                verdict = "right" if got == wanted else "unplaced" if got is None else "wrong"
                tally[verdict] += 1
                if show and verdict != "right":
                    print(f"  {attribute}: {word!r} wanted {wanted}, read {got}")
        print(f"{attribute:7s} words: right {tally['right']}, wrong {tally['wrong']}, unplaced {tally['unplaced']}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", nargs="+", default=["heldout", "dev", "paraphrases"], dest="sets")
    parser.add_argument("--show-wrong", action="store_true")
    parser.add_argument("--words", action="store_true", help="only the calibration words' placement")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rewriter = registry.create("sora-dit:prompt-rewriter")
    if args.words:
        word_placement(rewriter, args.show_wrong)
        return
    for name, rows in prompt_sets(args.sets).items():
        right = score(rewriter, rows, args.show_wrong)
        rates = " ".join(f"{a} {100 * right[a] / right['prompts']:5.1f}%" for a in ATTRIBUTES)
        print(f"{name:12s} {right['prompts']:3d} prompts: {rates}")


if __name__ == "__main__":
    main()
