"""Stage 5: train ``sora-understand:question-answerer``'s question-kind head on MiniLM embeddings of questions.

Questions of each kind (colour, shape, motion, count, exists) are written from many wordings with random
objects ("what colour is the small square?", "is there any green ball?"), embedded once by the frozen
pretrained MiniLM (pooled, unit length), and a linear head learns their kind with cross-entropy (full
batch, AdamW, seeded; it takes seconds, so there is nothing to resume). ``DEV_WORDINGS``, wordings the
training set never uses, measure how well it generalises; the benchmark's questions use others again::

    python -m training.train_qa --out /tmp/runs/qa
    python -m training.ship --qa /tmp/runs/qa
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from sora_core import registry
from sora_core.errors import SoraError
from training.logging_utils import LossLog

QA = "sora-understand:question-answerer"
KINDS = ("colour", "shape", "motion", "count", "exists")

#: Training wordings by kind; ``{o}`` is an object ("red circle", "small square", "ball"), ``{c}`` a colour,
#: ``{s}`` a shape (plural where the wording needs it: ``{s}s``).
WORDINGS: dict[str, tuple[str, ...]] = {
    "colour": (
        "what colour is the {o}?", "what color is the {o}?", "which colour is the {o}?", "what colour has the {o}?",
        "tell me the colour of the {o}", "what is the colour of the {o}?", "the {o} is which colour?",
        "name the colour of the {o}", "what colour does the {o} have?", "in what colour is the {o} drawn?",
        "which color is the {o} that moves?", "colour of the {o}?", "what is the {o}'s color?",
    ),
    "shape": (
        "what shape is the {c} object?", "which shape is the {c} thing?", "what kind of shape is the {c} one?",
        "what is the {c} object?", "name the shape of the {c} object", "what form does the {c} object have?",
        "the {c} object is what shape?", "what type of shape is {c}?", "shape of the {c} thing?",
        "which shape is moving left?", "what shape is the object that bounces?", "what is the {c} item shaped like?",
    ),
    "motion": (
        "which way is the {o} moving?", "in which direction does the {o} move?", "what is the {o} doing?",
        "how does the {o} move?", "which direction is the {o} heading?", "describe the motion of the {o}",
        "what movement does the {o} make?", "is the {o} moving left or right?", "where does the {o} move to?",
        "how is the {o} moving?", "what does the {o} do?", "direction of the {o}?", "does the {o} move up or down?",
    ),
    "count": (
        "how many objects are there?", "how many {s}s are there?", "how many {c} objects are in the video?",
        "count the {s}s", "what is the number of objects?", "how many things are shown?", "how many shapes do you see?",
        "number of {s}s?", "how many {c} {s}s are in the clip?", "count the objects in the video",
        "how many items move?", "tell me how many {s}s there are",
    ),
    "exists": (
        "is there a {o}?", "does the video show a {o}?", "can you see a {o}?", "is a {o} visible?",
        "do you see any {s}?", "is there any {c} object?", "does a {o} appear?", "are there {s}s in the clip?",
        "is the video showing a {o}?", "is there a {o} in the video?", "any {o} here?", "do we see a {o}?",
    ),
}  # fmt: skip

#: Held-out wordings: never trained on, used to choose nothing but to report generalisation.
DEV_WORDINGS: dict[str, tuple[str, ...]] = {
    "colour": ("what is the colour of that {o}?", "say which colour the {o} is"),
    "shape": ("which shape has the colour {c}?", "what sort of object is {c}?"),
    "motion": ("which way does the {o} travel?", "how does the {o} go?"),
    "count": ("how many {s}s does the clip hold?", "what number of objects is there?"),
    "exists": ("is any {o} in this clip?", "would I find a {o} here?"),
}

COLOURS = ("red", "green", "blue", "yellow", "purple", "cyan", "orange", "white")
SHAPES = ("circle", "square", "triangle")
NOUNS = (*SHAPES, "ball", "box", "block", "object", "thing", "shape")
SIZES = ("", "", "small ", "large ")


def write_questions(wordings: dict[str, tuple[str, ...]], count: int, seed: int) -> tuple[list[str], list[int]]:
    """``count`` questions written from ``wordings`` with random objects, and each one's kind index."""
    rng = np.random.default_rng(seed)
    texts, kinds = [], []
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        wording = wordings[kind][int(rng.integers(len(wordings[kind])))]
        colour = COLOURS[int(rng.integers(len(COLOURS)))]
        noun = NOUNS[int(rng.integers(len(NOUNS)))]
        subject = f"{SIZES[int(rng.integers(len(SIZES)))]}{colour if rng.random() < 0.6 else ''} {noun}".strip()
        shape = SHAPES[int(rng.integers(len(SHAPES)))]
        texts.append(" ".join(wording.format(o=subject, c=colour, s=shape).split()))
        kinds.append(KINDS.index(kind))
    return texts, kinds


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.train_qa", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="run directory (keep it outside the repository)")
    parser.add_argument("--questions", type=int, default=3000, help="training questions written")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--text-encoder", default="sora-text:minilm-l6", help="the frozen text encoder it reads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    return parser.parse_args(argv)


def train(args: argparse.Namespace) -> Any:
    """Train the kind head; returns the question answerer (written to ``OUT/qa``)."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    try:
        text_encoder = registry.create(args.text_encoder)
        pooled = text_encoder.output_ports()["pooled"]
        dim = int(pooled.shape.split("=")[-1])
        qa = registry.create(QA, text_dim=dim, text_space=pooled.space or "any")
    except (SoraError, KeyError, ValueError) as error:
        sys.exit(f"error: {error}")
    qa.bind_components({"text_encoder": text_encoder})
    texts, kinds = write_questions(WORDINGS, args.questions, args.seed)
    dev_texts, dev_kinds = write_questions(DEV_WORDINGS, 500, args.seed + 1)
    features, labels = qa.embed(texts), torch.tensor(kinds)
    dev_features, dev_labels = qa.embed(dev_texts), torch.tensor(dev_kinds)
    optimizer = torch.optim.AdamW(qa.kind_head.parameters(), lr=args.lr, weight_decay=1e-3)
    log = LossLog(args.out / "log.jsonl")
    for step in range(1, args.steps + 1):
        loss = F.cross_entropy(qa.kind_logits(features), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % 50 == 0 or step == args.steps:
            with torch.no_grad():
                train_right = float((qa.kind_logits(features).argmax(1) == labels).float().mean())
                dev_right = float((qa.kind_logits(dev_features).argmax(1) == dev_labels).float().mean())
            record = log.write(step, loss=loss.item(), train_accuracy=train_right, dev_accuracy=dev_right)
            print(" ".join(f"{k}={v}" for k, v in record.items()), flush=True)
    qa.eval()
    qa.save_pretrained(args.out / "qa")
    print(f"wrote {args.out / 'qa'}", flush=True)
    return qa


def main(argv: list[str] | None = None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    main()
