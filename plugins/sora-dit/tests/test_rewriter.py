"""sora-dit:prompt-rewriter: prompts as people write them, read onto the generator's words, with a report."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from sora_core import registry
from sora_core.errors import ConfigError, PromptError, SoraWarning
from sora_core.interfaces import PromptRewriter
from sora_core.pipeline import Pipeline
from sora_core.ports import PortSpec

pytest.importorskip("sora_text", reason="the rewriter reads words with MiniLM from sora-text (make setup)")

REWRITER = "sora-dit:prompt-rewriter"


@pytest.fixture(scope="module")
def rewriter():
    return registry.create(REWRITER)


def read_as(report: dict, attribute: str) -> dict[str, str]:
    return {r["words"]: r["value"] for r in report["read"] if r["as"] == attribute}


def test_training_words_pass_unchanged(rewriter) -> None:
    for prompt in (
        "a red circle moving right",
        "a blue square",
        "a small green triangle moving up on a black background",
    ):
        report = rewriter.rewrite(prompt)
        assert report["rewritten"] == prompt and report["changed"] is False and report["unplaced"] == []


def test_words_no_list_holds_are_read_from_colour_data_and_the_sentence_encoder(rewriter) -> None:
    report = rewriter.rewrite("a cherry ring drifting rightwards on a chocolate backdrop")
    assert report["rewritten"] == "a red circle moving right on a brown background"
    assert read_as(report, "colour") == {"cherry": "red"}
    assert read_as(report, "shape") == {"ring": "circle"}
    assert read_as(report, "motion") == {"drifting rightwards": "right"}
    assert read_as(report, "background") == {"chocolate": "brown"}
    colour = next(r for r in report["read"] if r["as"] == "colour")
    assert "XKCD colour survey" in colour["how"]


def test_colour_words_outside_the_survey_come_from_the_larger_name_list_before_a_noun_only(rewriter) -> None:
    report = rewriter.rewrite("a vermilion wheel sliding left on an alabaster backdrop")
    assert report["rewritten"] == "a red circle moving left on a grey background"
    colour = next(r for r in report["read"] if r["as"] == "colour")
    assert colour["words"] == "vermilion" and "color-name-list" in colour["how"]
    # "still" is a colour in that list; after the noun it stays the motion it is
    assert rewriter.rewrite("a red circle staying still")["rewritten"] == "a red circle staying still"
    assert rewriter.rewrite("a porcelain square that is still")["rewritten"] == "a white square staying still"


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("a huge mint hoop hopping", "a large green circle bouncing"),
        ("a tiny reddish tile sinking", "a small red square moving down"),
        ("a lavender globe that stays put", "a purple circle staying still"),
        ("a video of a golden-yellow moon ascending", "a yellow circle moving up"),
        ("A red ball rolls to the right.", "a red circle moving right"),
        ("a circle that is red, moving left", "a red circle moving left"),
        ("make a video where a small green triangle jumps up and down", "a small green triangle bouncing"),
        ("the blue triangle moves from right to left", "a blue triangle moving left"),
        ("an orange circle zooming across the screen from left to right", "an orange circle moving right"),
    ],
)
def test_rewordings(rewriter, prompt: str, expected: str) -> None:
    assert rewriter.rewrite(prompt)["rewritten"] == expected


@pytest.mark.parametrize(
    ("prompt", "objects"),
    [
        ("two red circles moving left", ["a red circle moving left"] * 2),
        ("a pair of squares", ["a square"] * 2),
        ("both triangles", ["a triangle"] * 2),
        ("a couple of blue rings bouncing", ["a blue circle bouncing"] * 2),
        ("one green square and two red circles", ["a green square", "a red circle"]),
    ],
)
def test_counts_become_one_phrase_per_object(rewriter, prompt: str, objects: list[str]) -> None:
    assert rewriter.rewrite(prompt)["rewritten"] == " and ".join(objects)


def test_more_objects_than_the_domain_holds_are_capped_and_said(rewriter) -> None:
    with pytest.warns(SoraWarning, match="at most 2 objects: drawing 2"):
        out = rewriter(prompt=["three red circles"])
    assert out["prompt"] == ["a red circle and a red circle"]


def test_words_it_cannot_place_are_reported_and_warned_about(rewriter) -> None:
    with pytest.warns(SoraWarning, match=r"'cat'.*could not be placed"):
        out = rewriter(prompt=["a red circle moving right and a cat"])
    assert out["prompt"] == ["a red circle moving right"]
    assert out["report"][0]["unplaced"] == ["cat"]


@pytest.mark.parametrize(
    ("prompt", "unplaced"),
    [
        ("a crimson disc gliding rightwards with a giraffe", ["giraffe"]),
        ("a red circle moving right past two trees", ["trees"]),
        ("a blue square sliding left beside the lamp", ["lamp"]),
        ("a blue square moving in a circle", ["circle"]),  # a path the clips never take: said, not hidden
        # directions and the setting are part of the motion, not things left out
        ("an orange circle zooming across the screen from left to right", []),
        ("a red ball rolls to the right.", []),
        ("a green triangle moving up for a moment", []),
    ],
)
def test_things_named_inside_the_motion_are_reported(rewriter, prompt: str, unplaced: list[str]) -> None:
    report = rewriter.rewrite(prompt)
    assert report["unplaced"] == unplaced
    assert report["objects"][0]["motion"] is not None


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("a red circle with a blue square", "a red circle and a blue square"),
        ("a white square along with an orange circle", "a white square and an orange circle"),
        (
            "a red ball drifting rightwards with a green triangle rising",
            "a red circle moving right and a green triangle moving up",
        ),
    ],
)
def test_a_shape_named_after_with_is_an_object_of_its_own(rewriter, prompt: str, expected: str) -> None:
    report = rewriter.rewrite(prompt)
    assert report["rewritten"] == expected and report["unplaced"] == []
    assert len(report["objects"]) == 2 and report["notes"] == []


def test_a_thing_after_with_that_is_no_shape_stays_unplaced(rewriter) -> None:
    report = rewriter.rewrite("a blue square moving left with the lamp")
    assert report["rewritten"] == "a blue square moving left" and report["unplaced"] == ["lamp"]
    assert len(report["objects"]) == 1


def test_a_thing_named_inside_the_motion_is_warned_about(rewriter) -> None:
    with pytest.warns(SoraWarning, match=r"'giraffe' in the prompt .*the clip will not show them"):
        out = rewriter(prompt=["a crimson disc gliding rightwards with a giraffe"])
    assert out["prompt"] == ["a red circle moving right"]


def test_a_prompt_of_nothing_known_is_refused_unless_allowed(rewriter) -> None:
    with pytest.raises(PromptError, match=r"'a cat playing the piano'.*'cat', 'playing', 'piano'") as caught:
        rewriter(prompt=["a cat playing the piano"])
    assert "--allow-unknown" in caught.value.hint
    allowing = registry.create(REWRITER, allow_unknown=True)
    with pytest.warns(SoraWarning, match="passed on unchanged"):
        assert allowing(prompt=["a cat playing the piano"])["prompt"] == ["a cat playing the piano"]


def test_off_passes_prompts_through(rewriter) -> None:
    off = registry.create(REWRITER, enabled=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = off(prompt=["a cat playing the piano"])
    assert out["prompt"] == ["a cat playing the piano"] and out["report"][0]["notes"] == ["rewriting is off"]


def test_bad_input_and_bad_targets_are_named(tmp_path: Path, rewriter) -> None:
    from sora_core.errors import PortError

    with pytest.raises(PortError, match="input 'prompt'"):
        rewriter(prompt=[1, 2])
    with pytest.raises(ConfigError, match="cannot read the file"):
        registry.create(REWRITER, targets=str(tmp_path / "missing.json"))
    bad = tmp_path / "targets.json"
    bad.write_text(json.dumps({"object_colours": []}))
    with pytest.raises(ConfigError, match="'object_colours' must be a non-empty list"):
        registry.create(REWRITER, targets=str(bad))
    from importlib import resources

    shipped = json.loads((resources.files("sora_dit") / "vocabularies" / "t2v-targets.json").read_text("utf-8"))
    bad.write_text(json.dumps({**shipped, "setting_nouns": "screen"}))
    with pytest.raises(ConfigError, match="'setting_nouns' must be a list of words"):
        registry.create(REWRITER, targets=str(bad))
    without = tmp_path / "older.json"  # a targets file written before setting_nouns existed still loads
    without.write_text(json.dumps({k: v for k, v in shipped.items() if k != "setting_nouns"}))
    assert registry.create(REWRITER, targets=str(without)).rewrite("a red circle")["rewritten"] == "a red circle"


class ShoutingRewriter(PromptRewriter):
    """Another rewriter, as a third party would write one: the prompt in capitals."""

    def input_ports(self) -> dict[str, PortSpec]:
        return {"prompt": PortSpec("str", "B")}

    def output_ports(self) -> dict[str, PortSpec]:
        return {"prompt": PortSpec("str", "B"), "report": PortSpec("any", "B")}

    def forward(self, prompt: list[str]) -> dict[str, list]:
        return {"prompt": [p.upper() for p in prompt], "report": [{"rewritten": p.upper()} for p in prompt]}


def test_it_is_the_first_node_of_t2v_and_can_be_swapped() -> None:
    pipe = Pipeline.from_template("t2v", materialize=False)
    assert pipe.spec.nodes["rewriter"].particle == REWRITER
    assert pipe.spec.inputs["prompt"] == ["rewriter.prompt"]
    assert registry.info(REWRITER).kind == "prompt_rewriter"
    registry.register("shouting-rewriter", ShoutingRewriter)
    pipe.swap("rewriter", "runtime:shouting-rewriter")
    assert pipe.spec.nodes["rewriter"].particle == "runtime:shouting-rewriter"


def test_the_rewriter_never_reads_the_evaluation_tables() -> None:
    """sora-synth holds the evaluation-only paraphrases (and the training synonyms live in training/): the
    rewriter's code imports neither, and it rewrites with sora_synth and training made unimportable."""
    import sora_dit

    root = Path(sora_dit.__file__).parent
    sources = [root / "rewriter.py", *sorted((root / "rewriting").glob("*.py"))]
    for source in sources:
        tree = ast.parse(source.read_text(encoding="utf-8"))
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not {m for m in imported if m.split(".")[0] in ("sora_synth", "training")}, source
        assert "PARAPHRASE" not in source.read_text(encoding="utf-8"), source
    script = (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('sora_synth', 'training'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from sora_core import registry\n"
        "r = registry.create('sora-dit:prompt-rewriter')\n"
        "print(r.rewrite('a cherry ring drifting rightwards')['rewritten'])\n"
        "assert not [m for m in sys.modules if m.startswith(('sora_synth', 'training'))]\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "a red circle moving right"
