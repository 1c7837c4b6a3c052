"""``sora templates`` lists the installed pipeline templates; ``sora show TEMPLATE`` prints one to copy and edit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sora_core import registry
from sora_core.cli.main import main
from sora_core.pipeline import load_spec, template_spec
from sora_core.pipeline import pipeline as pipeline_module


def _out(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return captured.out


def test_templates_lists_plugin_inputs_outputs_and_description(capsys: pytest.CaptureFixture[str]) -> None:
    lines = _out(capsys, "templates").splitlines()
    assert lines[0].split() == ["NAME", "PLUGIN", "INPUTS", "OUTPUTS", "DESCRIPTION"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert {"seed", "t2v", "v2t", "vqa", "summarize"} <= set(rows)
    assert rows["seed"].split()[1:4] == ["sora-seed", "text,", "video_features"]
    assert "prompt" in rows["t2v"] and "video" in rows["t2v"] and "Text to video" in rows["t2v"]
    assert "video, question" in rows["vqa"] and "answer" in rows["vqa"]


def test_templates_json_has_full_descriptions_and_wiring(capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(_out(capsys, "templates", "--json"))
    t2v = next(t for t in data["templates"] if t["name"] == "t2v")
    spec, _ = template_spec("t2v", registry.default_registry)
    assert t2v["plugin"] == "sora-dit" and t2v["description"] == spec.description
    assert t2v["inputs"] == {"prompt": ["rewriter.prompt"]} and t2v["outputs"] == {"video": "compositor.video"}
    assert t2v["nodes"]["denoiser"] == "sora-dit:dit-denoiser"


def test_show_prints_the_template_file_with_its_comments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _out(capsys, "show", "t2v")
    assert text.startswith("# pipeline template 't2v' from sora-dit")
    assert "\n  # one layer per object" in text  # the file's own comments, to edit with
    copy = tmp_path / "mine.yaml"
    copy.write_text(text)
    assert load_spec(copy) == template_spec("t2v", registry.default_registry)[0]
    monkeypatch.chdir(tmp_path)
    assert "flowchart" in _out(capsys, "graph", "mine.yaml")  # the copy builds where it was saved


def test_show_json_is_a_spec_that_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "seed.json"
    copy.write_text(_out(capsys, "show", "seed", "--json"))
    assert load_spec(copy) == template_spec("seed", registry.default_registry)[0]


def test_show_makes_relative_weights_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "plugin" / "templates"
    folder.mkdir(parents=True)
    template = folder / "mine.yaml"
    template.write_text(
        "name: mine\n# a comment\nnodes:\n  attention: {particle: sora-seed:additive-attention, weights: ../w}\n"
    )
    monkeypatch.setattr(pipeline_module, "available_templates", lambda _registry: {"mine": str(template)})
    shown = yaml.safe_load(_out(capsys, "show", "mine"))
    assert shown["nodes"]["attention"]["weights"] == str((folder / "../w").resolve())
    data = json.loads(_out(capsys, "show", "mine", "--json"))
    assert data["nodes"]["attention"]["weights"] == str((folder / "../w").resolve())


def test_show_writes_a_template_given_as_data(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = {"name": "inline", "description": "one node", "nodes": {"g": {"particle": "sora-seed:lstm-video-generator"}}}
    monkeypatch.setattr(pipeline_module, "available_templates", lambda _registry: {"inline": spec})
    text = _out(capsys, "show", "inline")
    assert yaml.safe_load(text)["nodes"] == {"g": {"particle": "sora-seed:lstm-video-generator"}}


def test_show_unknown_template_suggests_close_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "t2"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no installed plugin provides the pipeline template 't2'")
    assert "hint: did you mean 't2v'?" in err and "Traceback" not in err


def test_no_templates_installed_says_so(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(pipeline_module, "available_templates", lambda _registry: {})
    assert _out(capsys, "templates").startswith("no pipeline templates installed")
    assert json.loads(_out(capsys, "templates", "--json")) == {"templates": []}
    assert main(["show", "seed"]) == 1
    assert "templates installed: none" in capsys.readouterr().err


def test_an_unreadable_template_is_warned_about_and_the_others_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    good = {"name": "good", "nodes": {"g": {"particle": "sora-seed:lstm-video-generator"}}}
    monkeypatch.setattr(pipeline_module, "available_templates", lambda _registry: {"broken": str(broken), "good": good})
    assert main(["templates"]) == 0
    captured = capsys.readouterr()
    assert [line.split()[0] for line in captured.out.splitlines()] == ["NAME", "good"]
    assert captured.err.startswith("warning: template 'broken'") and "is not valid YAML/JSON" in captured.err
    data = json.loads(_out(capsys, "templates", "--json"))
    assert "is not valid YAML/JSON" in data["templates"][0]["problem"]
