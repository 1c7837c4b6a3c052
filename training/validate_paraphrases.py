"""How a denoiser copes with words it never saw, without looking at the benchmark's paraphrases.

    python -m training.validate_paraphrases --denoiser /tmp/runs/t2v-syn/denoiser --prompts 48

Validation scenes (a seed stream of their own) are captioned in training words; then every colour word and
shape noun is replaced by one from :data:`DEV_WORDS`, a third vocabulary: neither a training word, nor a
training-only synonym (:mod:`training.synonyms`), nor one of sora-synth's evaluation-only paraphrases (a test
checks). Each clip generated from the reworded prompt is scored against its scene's training-words caption,
so sora-synth's evaluator, which knows only training and evaluation words, can judge it.
"""

from __future__ import annotations

import argparse
import re

import numpy as np
import torch
from sora_synth.evaluate import ATTRIBUTES, Agreement, score
from sora_synth.lexicon import TRAIN_COLOURS, TRAIN_SHAPES
from sora_synth.splits import training_example

from training.validate_t2v import t2v_pipeline

#: First entropy word of these prompts and their seeds.
DEV_STREAM = 0xDE7
#: Colour words and shape nouns for this check only.
DEV_WORDS: dict[str, tuple[str, ...]] = {
    "red": ("rosy", "maroon"),
    "green": ("pea", "verdant"),
    "blue": ("steel", "indigo"),
    "yellow": ("sunshine", "saffron"),
    "purple": ("heather", "magenta"),
    "cyan": ("glacial", "seawater"),
    "orange": ("tawny", "ginger"),
    "white": ("eggshell", "vanilla"),
    "circle": ("globe", "pellet"),
    "square": ("placard", "plaque"),
    "triangle": ("pennant", "gable"),
}
_SPOKEN = {word: DEV_WORDS[meaning] for table in (TRAIN_COLOURS, TRAIN_SHAPES) for meaning, words in table.items()
           for word in words}  # fmt: skip
_PATTERN = re.compile(r"\b(" + "|".join(sorted(_SPOKEN, key=len, reverse=True)) + r")\b", re.IGNORECASE)


def reword(text: str, rng: np.random.Generator) -> str:
    """``text`` with every colour word and shape noun replaced by one of :data:`DEV_WORDS`."""
    return _PATTERN.sub(lambda m: str(_SPOKEN[m.group(0).lower()][rng.integers(2)]), text)


def dev_prompts(count: int) -> list[tuple[str, str]]:
    """``count`` pairs (reworded prompt, the training-words caption it is scored against)."""
    pairs = []
    for i in range(count):
        rng = np.random.default_rng([DEV_STREAM, i])
        text = training_example(rng)[1].text
        pairs.append((reword(text, rng), text))
    return pairs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m training.validate_paraphrases", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--denoiser", default=None, help="a trained denoiser directory (default: the shipped one)")
    parser.add_argument("--prompts", type=int, default=48)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    pipe = t2v_pipeline(args.denoiser)
    agreement = Agreement()
    for i, (reworded, text) in enumerate(dev_prompts(args.prompts)):
        video = pipe.run({"prompt": [reworded]}, seed=DEV_STREAM + i, progress=False)["video"]
        agreement.add(score(video[0], text))
    rates = agreement.rates()
    print("  ".join(f"{a} {100 * rates[a]:5.1f}%" for a in (*ATTRIBUTES, "all")))


if __name__ == "__main__":
    main()
