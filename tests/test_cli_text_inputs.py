"""``sora run --input 'prompt=["a", "b"]'``: a JSON list of strings is a batch of texts for a ``str`` port."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sora_core.cli.main import main
from sora_core.errors import PortError
from sora_core.pipeline.values import parse_value

STR_PORT = {"dtype": "str", "shape": "B"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('["a", "b"]', ["a", "b"]),
        ('  ["only one"]', ["only one"]),
        ("a red ball", ["a red ball"]),
        ("[draft] a red ball", ["[draft] a red ball"]),  # starts with a bracket, is no JSON: one text
        ("[1, 2", ["[1, 2"]),
        ('"quoted"', ['"quoted"']),
    ],
)
def test_str_port_values(text: str, expected: list[str]) -> None:
    assert parse_value("prompt", text, STR_PORT) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[]", "is an empty list"),
        ('["a", 3]', "holds 3, not text"),
        ('["a", null]', "holds null, not text"),
        ('[["a"]]', "not text"),
    ],
)
def test_str_port_refuses_lists_of_other_things(text: str, fragment: str) -> None:
    with pytest.raises(PortError) as caught:
        parse_value("prompt", text, STR_PORT)
    assert fragment in caught.value.message and "input 'prompt'" in caught.value.message
    assert "JSON list of texts" in (caught.value.hint or "")


@pytest.fixture
def tokenizer_spec(tmp_path: Path) -> Path:
    spec = tmp_path / "tok.yaml"
    spec.write_text(
        "name: tok\ninputs: {prompt: tok.text}\noutputs: {tokens: tok.tokens}\n"
        "nodes:\n  tok: {particle: sora-text:byte-tokenizer}\n"
    )
    return spec


def test_run_passes_a_list_to_a_str_port(tokenizer_spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(tokenizer_spec), "--input", 'prompt=["a", "bcd", "ef"]', "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["outputs"]["tokens"]["shape"][0] == 3
    assert main(["run", str(tokenizer_spec), "--input", "prompt=a red ball", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["outputs"]["tokens"]["shape"][0] == 1


def test_run_refuses_a_list_of_numbers_in_one_line(tokenizer_spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(tokenizer_spec), "--input", "prompt=[1, 2]"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: input 'prompt'") and "holds 1, not text" in err and "  hint: " in err
    assert "Traceback" not in err
