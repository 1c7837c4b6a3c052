"""The words of the t2v denoiser's training captions, written to the list sora-dit ships (``known_words: t2v``).

``sora-dit:object-prompts`` (with ``known_words: t2v``, as the ``t2v`` template sets it) warns about each
word of a prompt that is not in that list, stemmed, or an English function word: no training caption had
it, so the clip will not show it. The list is every word a training caption can contain: the training
templates' own words (``sora_synth.splits.TRAINING_TEMPLATES``), the training vocabulary
(``sora_synth.lexicon.TRAIN_*``, with the articles and the "that"/"is" of clauses) and the training-only
synonyms the shipped denoiser was fine-tuned with (:mod:`training.synonyms`). The evaluation-only paraphrase
words ("crimson", "disc") are not in it: the denoiser never saw them. ``training/tests/test_vocabulary.py``
keeps the shipped file equal to this and checks it against sampled training captions.

    python -m training.vocabulary            # rewrite plugins/sora-dit/sora_dit/vocabularies/t2v.txt
    python -m training.vocabulary --check    # exit 1 if the shipped list differs
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from sora_synth.captions import TEMPLATES
from sora_synth.lexicon import TRAIN_BACKGROUNDS, TRAIN_COLOURS, TRAIN_MOTIONS, TRAIN_SHAPES, TRAIN_SIZES
from sora_synth.splits import TRAINING_TEMPLATES

from sora_core.atomic import atomic_write_text
from training.synonyms import SYNONYMS

__all__ = ["SHIPPED", "shipped_text", "training_words"]

SHIPPED = Path(__file__).resolve().parents[1] / "plugins" / "sora-dit" / "sora_dit" / "vocabularies" / "t2v.txt"

_HEADER = """\
# The words of the captions sora-dit's default denoiser weights were trained on: sora-synth's training
# templates and training vocabulary, and the training-only synonyms of its fine-tune. object-prompts with
# known_words: t2v (the t2v template) warns about any other word of a prompt (stems and English function
# words aside). Written by `python -m training.vocabulary`; do not edit by hand.
"""


def _words(phrase: str) -> set[str]:
    return set(re.findall(r"[a-z]+", phrase.lower()))


def training_words() -> set[str]:
    """Every word a training caption of the shipped denoiser can contain."""
    words: set[str] = {"a", "an", "that", "is"}  # articles and the clause words of sora_synth.captions
    for template in TRAINING_TEMPLATES:
        words |= _words(re.sub(r"\{\w+\}", " ", TEMPLATES[template].pattern))
    for table in (TRAIN_COLOURS, TRAIN_SHAPES, TRAIN_SIZES, TRAIN_BACKGROUNDS):
        words |= {w for spoken in table.values() for phrase in spoken for w in _words(phrase)}
    for motion in TRAIN_MOTIONS.values():
        words |= {w for phrase in (*motion.ing, *motion.verb, *motion.adjective) for w in _words(phrase)}
    words |= {w for options in SYNONYMS.values() for phrase in options for w in _words(phrase)}
    return words


def shipped_text() -> str:
    """The list as the file holds it: the header, then one word a line, sorted."""
    return _HEADER + "".join(f"{word}\n" for word in sorted(training_words()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the shipped list is up to date")
    args = parser.parse_args(argv)
    text = shipped_text()
    if args.check:
        current = SHIPPED.read_text(encoding="utf-8") if SHIPPED.is_file() else ""
        if current != text:
            print(f"{SHIPPED} is stale: run python -m training.vocabulary", file=sys.stderr)
            return 1
        return 0
    SHIPPED.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(SHIPPED, text)
    print(f"wrote {SHIPPED} ({len(training_words())} words)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
