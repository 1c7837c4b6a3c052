"""How well the ``v2t`` and ``vqa`` pipelines describe clips they were never trained on, and answer questions.

    .venv/bin/python benchmarks/bench_understanding.py [--seeds 3] [--limit N] [--via-mp4] [--generated N]

Clips: the scenes of every held-out prompt of ``sora_synth.splits`` (colour x shape x motion combinations the
captioner's training cache excludes), ``--seeds`` scenes each (positions, speeds and sizes drawn per seed),
rendered by ``sora-synth``. Each clip is captioned by the ``v2t`` template; the caption is read back with
``sora_synth.captions.parse_prompt`` and its objects matched to the scene's (the pairing that agrees most),
so what is measured is the text a user gets. Printed: accuracy of colour, shape and motion per object
(targets >= 90%), of the object count and background per clip, and seconds per clip against the encoder
alone on the same batch (the baseline measured in the same run). ``--via-mp4`` writes every clip to an MP4
and reads it back first (the path ``sora caption clip.mp4`` takes, with its compression). The same scenes are
also drawn as a generator might (``sora_synth.roughen.render_rough``: objects larger or slower, wobbling
edges, smudges, ghosting, blur, colour casts, grain; a seed stream of their own) and captioned, reported
with no target; ``--generated N``
also captions the ``t2v`` pipeline's videos of the first N held-out prompts (a round trip, reported with no
target: its errors are both models').

Questions: on the same clips, the ``vqa`` template answers one question of each kind (colour, shape, motion,
count, whether something is there: half of those about an object that is absent), worded by templates that
are not among the question answerer's example questions; an answer is right when it names exactly the right
words (in any order). Target >= 85%.

Key frames: ``--event-clips`` clips of 17 frames in which objects enter from an edge and stop, stop, start
or turn back (one or two objects, paths drawn per clip by :func:`event_scene`; nothing is trained on them),
summarised by the ``summarize`` template. Recall: the share of the scene's events (``Scene.events``) with a
key frame within one frame of them (target >= 80%); also printed, the share whose kind the summary names
at that frame, and how many key frames a clip gets against how many events it has.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sora_synth.captions import PromptError, parse_prompt
from sora_synth.roughen import render_rough
from sora_synth.scene import Keyframe, ObjectSpec, Scene, render_tensor
from sora_synth.splits import heldout_prompts
from sora_synth.vocabulary import BACKGROUNDS, COLOURS, SHAPES, SIZES, ObjectAttributes

from sora_core.errors import SoraError
from sora_core.pipeline import Pipeline
from sora_core.video_io import read_video, to_frames, to_video, write_video

ATTRIBUTES = ("colour", "shape", "motion")
TARGET = 0.90
QA_TARGET = 0.85
SCENES = 0xB3C7
QUESTIONS = 0xB3C8
EVENTS = 0xB3C9
ROUGH = 0xB3CA
KEY_TARGET = 0.80
EVENT_FRAMES = 17
NUMBERS = ("zero", "one", "two", "three")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="scenes per held-out prompt")
    parser.add_argument("--limit", type=int, default=None, help="only the first N held-out prompts")
    parser.add_argument("--batch", type=int, default=24, help="clips per pipeline run")
    parser.add_argument("--via-mp4", action="store_true", help="round-trip every clip through an MP4 file first")
    parser.add_argument("--generated", type=int, default=0, help="also caption t2v's videos of the first N prompts")
    parser.add_argument("--event-clips", type=int, default=120, help="clips with events for the key frames")
    parser.add_argument("--threads", type=int, default=2)
    return parser.parse_args(argv)


def agreement(said: tuple[ObjectAttributes, ...], truth: tuple[ObjectAttributes, ...]) -> dict[str, list[bool]]:
    """Per attribute, one verdict per true object, under the pairing of said and true objects that agrees most."""
    best: dict[str, list[bool]] | None = None
    for order in itertools.permutations(range(max(len(said), len(truth))), len(truth)):
        verdicts: dict[str, list[bool]] = {a: [] for a in ATTRIBUTES}
        for wanted, index in zip(truth, order, strict=True):
            got = said[index] if index < len(said) else None
            for name in ATTRIBUTES:
                verdicts[name].append(got is not None and getattr(got, name) == getattr(wanted, name))
        if best is None or sum(map(sum, verdicts.values())) > sum(map(sum, best.values())):
            best = verdicts
    assert best is not None
    return best


def via_mp4(video: torch.Tensor, folder: Path) -> torch.Tensor:
    """``video`` ``(3, T, H, W)`` written to an MP4 and read back."""
    path = write_video(to_frames(video), folder / "clip.mp4")
    return to_video(read_video(path))


def caption_clips(pipe: Pipeline, clips: list[torch.Tensor], batch: int) -> tuple[list[str], float]:
    """Captions of ``clips`` and the seconds spent per clip."""
    captions: list[str] = []
    began = time.perf_counter()
    for start in range(0, len(clips), batch):
        captions += pipe.run({"video": torch.stack(clips[start : start + batch])}, seed=0, progress=False)["caption"]
    return captions, (time.perf_counter() - began) / max(1, len(clips))


def encoder_seconds(pipe: Pipeline, clips: list[torch.Tensor], batch: int) -> float:
    """Baseline: seconds per clip of the encoder node alone on the same batches."""
    encoder = pipe.nodes["encoder"]
    began = time.perf_counter()
    with torch.inference_mode():
        for start in range(0, len(clips), batch):
            encoder(video=torch.stack(clips[start : start + batch]))
    return (time.perf_counter() - began) / max(1, len(clips))


def report(
    label: str, captions: list[str], truths: list[tuple[tuple[ObjectAttributes, ...], str]], targets: bool = True
) -> bool:
    verdicts: dict[str, list[bool]] = {a: [] for a in ATTRIBUTES}
    counts, backgrounds, unreadable = [], [], 0
    for text, (objects, background) in zip(captions, truths, strict=True):
        try:
            spec = parse_prompt(text)
        except PromptError:
            unreadable += 1
            spec = None
        said = spec.objects if spec else ()
        for name, marks in agreement(said, objects).items():
            verdicts[name] += marks
        counts.append(len(said) == len(objects))
        backgrounds.append(spec is not None and spec.background == background)
    print(f"{label} ({len(captions)} clips)")
    passed = True
    for name in ATTRIBUTES:
        rate = float(np.mean(verdicts[name]))
        passed &= rate >= TARGET
        verdict = f"  target >= {100 * TARGET:.0f}%  {'PASS' if rate >= TARGET else 'FAIL'}" if targets else ""
        print(f"  {name:<10} {100 * rate:6.1f}%{verdict}")
    print(f"  count      {100 * float(np.mean(counts)):6.1f}%")
    print(f"  background {100 * float(np.mean(backgrounds)):6.1f}%")
    if unreadable:
        print(f"  {unreadable} caption(s) could not be read back")
    return passed


def questions(
    objects: tuple[ObjectAttributes, ...], phrases: dict[str, str], rng: np.random.Generator, vocabulary: dict
) -> list[tuple[str, str, str]]:
    """``(kind, question, expected answer)``: one question of each kind about a clip of ``objects``."""
    target = objects[int(rng.integers(len(objects)))]
    same_shape = [o for o in objects if o.shape == target.shape]
    same_colour = [o for o in objects if o.colour == target.colour]
    asked = []
    colours = " and ".join(dict.fromkeys(o.colour for o in same_shape))
    asked.append(("colour", f"Which hue does the {target.shape} have?", colours))
    shapes = " and ".join(dict.fromkeys(o.shape for o in same_colour))
    asked.append(("shape", f"The {target.colour} thing: what shape is it?", shapes))
    asked.append(("motion", f"Where is the {target.colour} {target.shape} going?", phrases[target.motion]))
    if rng.random() < 0.5:
        asked.append(("count", "How many things appear in this clip?", NUMBERS[len(objects)]))
    else:
        shape = vocabulary["shapes"][int(rng.integers(len(vocabulary["shapes"])))]
        asked.append(("count", f"How many {shape}s can be seen?", NUMBERS[sum(o.shape == shape for o in objects)]))
    if rng.random() < 0.5:
        asked.append(("exists", f"Does this clip contain a {target.colour} {target.shape}?", "yes"))
    else:
        present = {(o.colour, o.shape) for o in objects}
        absent = [(c, s) for c in vocabulary["colours"] for s in vocabulary["shapes"] if (c, s) not in present]
        colour, shape = absent[int(rng.integers(len(absent)))]
        asked.append(("exists", f"Does this clip contain a {colour} {shape}?", "no"))
    return asked


def report_answers(answers: list[str], asked: list[tuple[str, str, str]]) -> bool:
    right: dict[str, list[bool]] = {}
    for answer, (kind, _, expected) in zip(answers, asked, strict=True):
        right.setdefault(kind, []).append(set(answer.split(" and ")) == set(expected.split(" and ")))
    overall = float(np.mean([r for marks in right.values() for r in marks]))
    print(f"answers to questions about held-out clips ({len(answers)} questions)")
    for kind, marks in right.items():
        print(f"  {kind:<10} {100 * float(np.mean(marks)):6.1f}%")
    ok = overall >= QA_TARGET
    print(f"  all        {100 * overall:6.1f}%  target >= {100 * QA_TARGET:.0f}%  {'PASS' if ok else 'FAIL'}")
    return ok


def answer_all(pipe: Pipeline, clips: list[torch.Tensor], asked: list[list[tuple[str, str, str]]]) -> list[str]:
    answers: list[str] = []
    for clip, questions_of_clip in zip(clips, asked, strict=True):
        batch = torch.stack([clip] * len(questions_of_clip))
        texts = [question for _, question, _ in questions_of_clip]
        answers += pipe.run({"video": batch, "question": texts}, seed=0, progress=False)["answer"]
    return answers


def event_path(rng: np.random.Generator, kind: str, radius: float, band: tuple[float, float]) -> tuple[list, str]:
    """Keyframes of an object that ``kind``: enters (from the left or right edge, then stops), stops, starts
    or turns (back along its way), its row inside ``band``; and the motion its first segment has."""
    turn = float(rng.uniform(0.35, 0.65))
    y = float(rng.uniform(band[0] + radius, band[1] - radius))
    sign = 1.0 if rng.random() < 0.5 else -1.0
    if kind == "enters":
        x0 = -radius - 0.02 if sign > 0 else 1 + radius + 0.02
        x1 = float(rng.uniform(0.35, 0.65))
        path = [(0.0, x0), (turn, x1), (1.0, x1)]
    else:
        travel = sign * float(rng.uniform(0.3, 0.45))
        x0 = 0.5 - travel / 2
        if kind == "stops":
            path = [(0.0, x0), (turn, x0 + travel), (1.0, x0 + travel)]
        elif kind == "starts":
            path = [(0.0, x0), (turn, x0), (1.0, x0 + travel)]
        else:
            path = [(0.0, x0), (turn, x0 + travel), (1.0, x0 + travel - sign * float(rng.uniform(0.15, 0.3)))]
    motion = "still" if kind == "starts" else ("right" if sign > 0 else "left")
    return [Keyframe(u, x, y, radius) for u, x in path], motion


def event_scene(rng: np.random.Generator) -> Scene:
    """One or two objects (in the top and bottom halves), each of which enters, stops, starts or turns."""
    count = 1 + int(rng.random() < 0.5)
    bands = [(0.0, 1.0)] if count == 1 else [(0.0, 0.5), (0.5, 1.0)]
    colours = rng.choice(list(COLOURS), count, replace=False)
    objects = []
    for i in range(count):
        size = ("small", "large")[int(rng.integers(2))] if count == 1 else "small"
        kind = ("enters", "stops", "starts", "turns")[int(rng.integers(4))]
        keys, motion = event_path(rng, kind, SIZES[size], bands[i])
        objects.append(ObjectSpec(SHAPES[int(rng.integers(len(SHAPES)))], str(colours[i]), size, motion, tuple(keys)))
    return Scene(list(BACKGROUNDS)[int(rng.integers(len(BACKGROUNDS)))], tuple(objects))


def key_frames(clips: int) -> bool:
    """Summarise ``clips`` event clips; print recall within one frame, kinds named, key frames per clip."""
    pipe = Pipeline.from_template("summarize", seed=0)
    found, named, keys, events = [], [], 0, 0
    began = time.perf_counter()
    example = ""
    for i in range(clips):
        scene = event_scene(np.random.default_rng([EVENTS, i]))
        out = pipe.run({"video": render_tensor(scene, EVENT_FRAMES)[None]}, seed=0, progress=False)
        frames = [int(f) for f in out["frames"][0] if f >= 0]
        summary = out["summary"][0]
        example = example or summary
        keys += len(frames)
        for event in scene.events(EVENT_FRAMES):
            events += 1
            found.append(any(abs(f - event.frame) <= 1 for f in frames))
            near = [f"{event.kind} (frame {f})" for f in (event.frame - 1, event.frame, event.frame + 1)]
            named.append(any(phrase in summary for phrase in near))
    recall = float(np.mean(found))
    ok = recall >= KEY_TARGET
    print(f"key frames of clips in which things change ({clips} clips of {EVENT_FRAMES} frames, {events} events)")
    print(
        f"  recall within one frame {100 * recall:6.1f}%  target >= {100 * KEY_TARGET:.0f}%  {'PASS' if ok else 'FAIL'}"
    )
    print(f"  kind named at that frame {100 * float(np.mean(named)):5.1f}%")
    print(f"  key frames per clip {keys / clips:.2f} (events per clip {events / clips:.2f})")
    print(f"  {1000 * (time.perf_counter() - began) / clips:.0f} ms per clip; e.g. {example!r}")
    return ok


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    prompts = heldout_prompts()[: args.limit]
    try:
        pipe = Pipeline.from_template("v2t", seed=0)
    except SoraError as error:
        sys.exit(f"error: {error}")
    scenes = [p.scene(np.random.default_rng([SCENES, i, s])) for s in range(args.seeds) for i, p in enumerate(prompts)]
    clips = [render_tensor(scene) for scene in scenes]
    if args.via_mp4:
        with tempfile.TemporaryDirectory() as folder:
            clips = [via_mp4(clip, Path(folder)) for clip in clips]
    print(f"understanding: {len(clips)} clips of {len(prompts)} held-out prompts x {args.seeds} scene(s)")
    pipe.run({"video": torch.stack(clips[:2])}, seed=0, progress=False)  # warm-up
    captions, per_clip = caption_clips(pipe, clips, args.batch)
    baseline = encoder_seconds(pipe, clips, args.batch)
    truths = [(scene.attributes, scene.background) for scene in scenes]
    passed = report("captions of held-out clips" + (" (through MP4)" if args.via_mp4 else ""), captions, truths)
    print(
        f"  {1000 * per_clip:.1f} ms per clip, {per_clip / baseline:.2f}x the encoder alone ({1000 * baseline:.1f} ms)"
    )
    for text, scene in list(zip(captions, scenes, strict=True))[:3]:
        print(f"  e.g. {text!r} for {' and '.join(a.describe() for a in scene.attributes)}")
    rough = [render_rough(scene, np.random.default_rng([ROUGH, i])) for i, scene in enumerate(scenes)]
    said, _ = caption_clips(pipe, rough, args.batch)
    report("the same scenes drawn as a generator might (sora_synth.roughen; no target)", said, truths, targets=False)
    if args.generated:
        t2v = Pipeline.from_template("t2v", seed=0)
        made = [
            t2v.run({"prompt": [p.text]}, seed=i, progress=False)["video"][0]
            for i, p in enumerate(prompts[: args.generated])
        ]
        said, _ = caption_clips(pipe, made, args.batch)
        report(
            "round trip: t2v's videos of held-out prompts, captioned (no target)",
            said,
            [(p.objects, p.background) for p in prompts[: args.generated]],
            targets=False,
        )
    qa = Pipeline.from_template("vqa", seed=0)
    captioner = qa.nodes["captioner"]
    rng = np.random.default_rng(QUESTIONS)
    asked = [
        questions(scene.attributes, captioner.config.motion_phrases, rng, captioner.vocabulary()) for scene in scenes
    ]
    answers = answer_all(qa, clips, asked)
    passed &= report_answers(answers, [q for per_clip in asked for q in per_clip])
    wrong = [
        (q, e, a)
        for (_, q, e), a in zip([q for c in asked for q in c], answers, strict=True)
        if set(a.split(" and ")) != set(e.split(" and "))
    ]
    for question, expected, answer in wrong[:3]:
        print(f"  e.g. wrong: {question!r} -> {answer!r} (expected {expected!r})")
    if args.event_clips:
        passed &= key_frames(args.event_clips)
    print("PASS" if passed else "FAIL")


if __name__ == "__main__":
    main()
