"""bench_understanding: its scoring on answers whose truth is known, its event clips, and a small run end to end."""

from __future__ import annotations

import numpy as np
from sora_synth.vocabulary import ObjectAttributes

NAME = "bench_understanding"


def test_objects_are_paired_the_way_that_agrees_most(load_benchmark) -> None:
    red = ObjectAttributes(colour="red", shape="circle", motion="left")
    blue = ObjectAttributes(colour="blue", shape="square", motion="still")
    verdicts = load_benchmark(NAME).agreement((blue, red), (red, blue))
    assert verdicts == {"colour": [True, True], "shape": [True, True], "motion": [True, True]}
    missing = load_benchmark(NAME).agreement((red,), (red, blue))
    assert missing["colour"] == [True, False]


def test_event_clips_hold_the_events_asked_for(load_benchmark) -> None:
    bench = load_benchmark(NAME)
    kinds = set()
    for i in range(40):
        scene = bench.event_scene(np.random.default_rng([bench.EVENTS, i]))
        events = scene.events(bench.EVENT_FRAMES)
        assert events, scene
        kinds |= {e.kind for e in events}
    assert kinds >= {"enters", "stops", "starts", "turns"}


def test_a_small_run_prints_every_measure(capsys, load_benchmark) -> None:
    load_benchmark(NAME).main(["--limit", "2", "--seeds", "1", "--event-clips", "3", "--threads", "1"])
    out = capsys.readouterr().out
    for line in (
        "captions of held-out clips (2 clips)",
        "drawn as a generator might (sora_synth.roughen; no target) (2 clips)",
        "answers to questions",
        "recall within one frame",
    ):
        assert line in out
    assert out.strip().splitlines()[-1] in ("PASS", "FAIL")
