"""The clip-evaluator particle: scores through the registry, its kind, its errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sora_synth.captions import PromptError
from sora_synth.scene import render_tensor, sample_scene
from sora_synth.vocabulary import ObjectAttributes

from sora_core import registry
from sora_core.errors import PortError


@pytest.fixture(scope="module")
def clips() -> torch.Tensor:
    rng = np.random.default_rng(0)
    wanted = [
        [ObjectAttributes("red", "circle", "right", "large")],
        [ObjectAttributes("blue", "square", "up", "small"), ObjectAttributes("yellow", "triangle", "still", "large")],
    ]
    return torch.stack([render_tensor(sample_scene(rng, objects=w)) for w in wanted])


def test_the_kind_is_contributed_and_listed() -> None:
    kind = registry.kinds()["video_evaluator"]
    assert kind.inputs == ("video", "prompt") and kind.outputs == ("scores",) and not kind.learned
    (info,) = registry.list(kind="video_evaluator")
    assert info.full_name == "sora-synth:clip-evaluator"


def test_scores_per_attribute(clips: torch.Tensor) -> None:
    evaluator = registry.create("clip-evaluator")
    prompts = ["a red ball moving right", "a blue square moving up and a yellow triangle staying still"]
    assert evaluator(video=clips, prompt=prompts)["scores"].tolist() == [[1.0] * 4, [1.0] * 4]
    # the second prompt is matched to the track it agrees with most: the blue square moving up
    wrong = ["a green ball moving left", "a blue circle moving up"]
    assert evaluator(video=clips, prompt=wrong)["scores"].tolist() == [[0.0, 1.0, 0.0, 1.0], [1.0, 0.0, 1.0, 0.0]]
    scores = evaluator(video=clips, prompt=["a red ball", "hello there"])["scores"]
    assert scores.dtype == torch.float32 and scores.tolist() == [[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]]
    half = registry.create("clip-evaluator", not_applicable=0.5)
    assert half(video=clips[:1], prompt="a red ball")["scores"].tolist() == [[1.0, 1.0, 0.5, 1.0]]


def test_errors_name_the_particle_and_port(clips: torch.Tensor) -> None:
    strict = registry.create("clip-evaluator", on_unparseable="raise")
    with pytest.raises(PromptError, match="sora-synth:clip-evaluator: prompt 'hello there' names no colour"):
        strict(video=clips, prompt=["a red ball", "hello there"])
    evaluator = registry.create("clip-evaluator")
    with pytest.raises(PortError, match="input 'video' must be a tensor"):
        evaluator(video=clips[0], prompt=["a red ball"])
    with pytest.raises(PortError, match="input 'prompt' must be 2 strings"):
        evaluator(video=clips, prompt=["a red ball"])


def test_it_judges_what_the_t2v_pipeline_generates() -> None:
    from sora_core.errors import SoraError
    from sora_core.pipeline import Pipeline

    try:
        spec = Pipeline.from_template("t2v", seed=0).spec.model_dump(mode="json", exclude_none=True)
    except SoraError as exc:  # sora-dit, sora-text and sora-vae make the template
        pytest.skip(f"the t2v template is not installed: {exc}")
    spec["nodes"]["judge"] = {"particle": "sora-synth:clip-evaluator"}
    spec["edges"].append(f"{spec['outputs']['video']} -> judge.video")  # the video the template outputs
    spec["inputs"]["prompt"] = [*spec["inputs"]["prompt"], "judge.prompt"]
    spec["outputs"]["scores"] = "judge.scores"
    pipe = Pipeline.from_spec(spec, seed=0)
    pipe.configure("sampler", steps=2)
    out = pipe(prompt=["a red circle moving right", "a blue square staying still"])
    assert out["video"].shape == (2, 3, 9, 64, 64)
    scores = out["scores"]
    assert scores.shape == (2, 4) and scores.dtype == torch.float32
    assert set(scores.flatten().tolist()) <= {0.0, 1.0}
