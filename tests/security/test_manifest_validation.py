"""Issue 22, classes 5 and 6: every field of a plugin manifest is type-checked, naming the particle and field.

A manifest with a field of the wrong type used to be accepted (and break the registry's pages forever) or
crash inspection with a ``TypeError``; now each one is a problem of the wheel, a ``ManifestError`` when
parsed directly, and a failed ``sora check``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from sora_core.errors import ManifestError
from sora_core.manifest import load_manifest_json, parse_manifest, particle_info
from sora_core.synthetic import write_wheel
from sora_core.wheels import inspect_wheel

MEMBER = "demo/sora_manifest.json"


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The manifest of a valid one-particle plugin wheel ``demo`` (particle ``enc``), as JSON."""
    import zipfile

    wheel = write_wheel(tmp_path_factory.mktemp("valid"), "demo", ["enc"])
    with zipfile.ZipFile(wheel) as archive:
        return json.loads(archive.read(MEMBER))


def _set(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """``data`` with the dotted ``path`` set to ``value`` (``particles.enc.inputs``); ``...`` deletes it."""
    changed = copy.deepcopy(data)
    *parents, last = path.split(".")
    node = changed
    for key in parents:
        node = node[key]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return changed


P = "particles.enc"
PORT = {"dtype": "float32", "shape": "B T C=8"}
# (dotted path, value, words the problem must contain besides the manifest's member name)
TOP_LEVEL = [
    ("templates", 5, ["field 'templates' must be an array, not a number"]),
    ("templates", "t2v", ["field 'templates' must be an array, not a string"]),
    ("templates", [5], ["field 'templates[0]' must be a non-empty string"]),
    ("templates", [""], ["field 'templates[0]' must be a non-empty string"]),
    ("kinds", 5, ["field 'kinds' must be an array"]),
    ("kinds", [5], ["kinds[0]", "must be an object"]),
    ("kinds", [{"name": 5}], ["kinds[0]", "'name' must be a non-empty string"]),
    ("kinds", [{"name": "k", "inputs": "text"}], ["kinds[0]", "kind 'k'", "'inputs' must be an array of port names"]),
    ("kinds", [{"name": "k", "outputs": [1]}], ["kinds[0]", "'outputs'"]),
    ("kinds", [{"name": "k", "learned": "yes"}], ["kinds[0]", "'learned' must be true or false"]),
    ("kinds", [{"name": "k", "description": {}}], ["kinds[0]", "'description' must be a string"]),
    ("spaces", {"tag": "text/x@1"}, ["field 'spaces' must be an array, not an object"]),
    ("spaces", [5], ["spaces[0]", "must be an object"]),
    ("spaces", [{"tag": 5}], ["spaces[0]", "field 'tag' must be a non-empty string"]),
    ("spaces", [{"description": "no tag"}], ["spaces[0]", "field 'tag'"]),
    ("spaces", [{"tag": "Not A Tag"}], ["spaces[0]", "invalid space tag"]),
    ("spaces", [{"tag": "text/x@1", "description": 5}], ["spaces[0]", "field 'description' must be a string"]),
    ("particles", [], ["field 'particles' must be an object, not an array"]),
    ("particles", "enc", ["field 'particles' must be an object, not a string"]),
    ("particles.enc", 5, ["field 'particles.enc' must be an object, not a number"]),
    ("format", True, ["has format True, expected 1"]),
    ("format", "1", ["has format '1', expected 1"]),
    ("format", 2, ["has format 2, expected 1"]),
    ("format", ..., ["has format None, expected 1"]),
    ("distribution", 5, ["field 'distribution' must be a string"]),
]
PARTICLE = [
    (f"{P}.kind", 5, ["field 'kind' must be a non-empty string, not a number"]),
    (f"{P}.kind", "", ["field 'kind' must be a non-empty string"]),
    (f"{P}.kind", ..., ["field 'kind' must be a non-empty string, not null"]),
    (f"{P}.kind", ["video_generator"], ["field 'kind'", "not an array"]),
    (f"{P}.inputs", [PORT], ["field 'inputs' must be an object, not an array"]),
    (f"{P}.inputs", "condition", ["field 'inputs' must be an object, not a string"]),
    (f"{P}.outputs", 5, ["field 'outputs' must be an object, not a number"]),
    (f"{P}.inputs", {"x": 5}, ["input port 'x'", "a port spec must be an object"]),
    (f"{P}.inputs", {"x": [PORT]}, ["input port 'x'", "a port spec must be an object"]),
    (f"{P}.inputs", {"": PORT}, ["a port with an empty name"]),
    (f"{P}.inputs", {"x": {**PORT, "shape": 5}}, ["input port 'x'", "field 'shape' must be a string"]),
    (f"{P}.inputs", {"x": {**PORT, "shape": ["B"]}}, ["input port 'x'", "field 'shape' must be a string"]),
    (f"{P}.inputs", {"x": {**PORT, "dtype": ["float32"]}}, ["input port 'x'", "field 'dtype' must be a string"]),
    (f"{P}.inputs", {"x": {**PORT, "dtype": 5}}, ["input port 'x'", "field 'dtype' must be a string"]),
    (f"{P}.inputs", {"x": {**PORT, "dtype": "f"}}, ["input port 'x'", "unknown dtype 'f'"]),
    (f"{P}.inputs", {"x": {"shape": "B"}}, ["input port 'x'", "invalid port spec"]),
    (f"{P}.inputs", {"x": {**PORT, "space": 5}}, ["input port 'x'", "field 'space' must be a string or null"]),
    (f"{P}.inputs", {"x": {**PORT, "space": {"a": 1}}}, ["input port 'x'", "'space'"]),
    (f"{P}.inputs", {"x": {**PORT, "space": "NOT A TAG"}}, ["input port 'x'", "invalid space tag"]),
    (f"{P}.outputs", {"y": {**PORT, "optional": "yes"}}, ["output port 'y'", "'optional' must be true or false"]),
    (f"{P}.outputs", {"y": {**PORT, "optional": 1}}, ["output port 'y'", "'optional' must be true or false"]),
    (f"{P}.outputs", {"y": {**PORT, "description": 5}}, ["output port 'y'", "'description' must be a string"]),
    (f"{P}.outputs", {"y": {**PORT, "extra": 1}}, ["output port 'y'", "invalid port spec"]),
    (f"{P}.outputs", {"y": {**PORT, "shape": "B ... ..."}}, ["output port 'y'", "more than one '...'"]),
    (f"{P}.outputs", {"y": {**PORT, "shape": "B D=x"}}, ["output port 'y'", "invalid dimension"]),
    (f"{P}.config_schema", 5, ["field 'config_schema' must be a JSON Schema object, not a number"]),
    (f"{P}.config_schema", [1, 2], ["field 'config_schema' must be a JSON Schema object, not an array"]),
    (f"{P}.config_schema", True, ["field 'config_schema' must be a JSON Schema object, not a boolean"]),
    (
        f"{P}.config_schema",
        {"type": "object", "properties": ["size", "depth"]},
        ["field 'config_schema.properties' must be an object mapping names to JSON Schema objects, not an array"],
    ),
    (
        f"{P}.config_schema",
        {"type": "object", "properties": "size"},
        ["field 'config_schema.properties' must be an object", "not a string"],
    ),
    (
        f"{P}.config_schema",
        {"properties": {"size": 5}},
        ["field 'config_schema.properties.size' must be a JSON Schema object, not a number"],
    ),
    (f"{P}.config_schema", {"properties": {"size": None}}, ["'config_schema.properties.size'", "not null"]),
    (f"{P}.config_schema", {"properties": {"size": True}}, ["'config_schema.properties.size'", "not a boolean"]),
    (f"{P}.config_schema", {"properties": {"s": {"type": 5}}}, ["'config_schema.properties.s.type' must be a string"]),
    (f"{P}.config_schema", {"properties": {"s": {"type": [5]}}}, ["'config_schema.properties.s.type'"]),
    (f"{P}.config_schema", {"properties": {"s": {"description": 5}}}, ["'config_schema.properties.s.description'"]),
    (f"{P}.config_schema", {"properties": {"s": {"title": []}}}, ["'config_schema.properties.s.title'"]),
    (f"{P}.config_schema", {"properties": {"s": {"anyOf": {}}}}, ["'config_schema.properties.s.anyOf' must be"]),
    (f"{P}.config_schema", {"properties": {"s": {"anyOf": [5]}}}, ["'config_schema.properties.s.anyOf[0]'"]),
    (f"{P}.config_schema", {"properties": {"s": {"enum": "ab"}}}, ["'config_schema.properties.s.enum' must be"]),
    (f"{P}.config_schema", {"properties": {"s": {"items": 5}}}, ["'config_schema.properties.s.items'"]),
    (f"{P}.config_schema", {"required": "size"}, ["'config_schema.required' must be an array of strings"]),
    (f"{P}.config_schema", {"required": [1]}, ["'config_schema.required' must be an array of strings"]),
    (f"{P}.config_schema", {"$defs": []}, ["'config_schema.$defs' must be an object"]),
    (f"{P}.config_schema", {"$defs": {"Sub": 5}}, ["'config_schema.$defs.Sub' must be a JSON Schema object"]),
    (f"{P}.config_schema", {"$defs": {"Sub": {"properties": []}}}, ["'config_schema.$defs.Sub.properties'"]),
    (f"{P}.default_config", [1], ["field 'default_config' must be an object, not an array"]),
    (f"{P}.default_config", "size=8", ["field 'default_config' must be an object, not a string"]),
    (f"{P}.default_weights", 5, ["'default_weights' (5) must be a relative path inside the package"]),
    (f"{P}.default_weights", "/etc/passwd", ["'default_weights'", "relative path inside the package"]),
    (f"{P}.default_weights", "../../elsewhere", ["'default_weights'", "relative path inside the package"]),
    (f"{P}.default_weights", "", ["'default_weights'", "relative path inside the package"]),
    (f"{P}.default_weights", "weights\\enc", ["'default_weights'", "relative path inside the package"]),
    (f"{P}.default_weights", ["weights"], ["'default_weights'", "relative path inside the package"]),
    (f"{P}.pretrained_on_create", "yes", ["field 'pretrained_on_create' must be true or false, not a string"]),
    (f"{P}.pretrained_on_create", 1, ["field 'pretrained_on_create' must be true or false, not a number"]),
    (f"{P}.source", 5, ["field 'source' must be a string, not a number"]),
    (f"{P}.description", {"en": "x"}, ["field 'description' must be a string, not an object"]),
    (f"{P}.entry_point", 5, ["field 'entry_point' must be a string, not a number"]),
    (
        "particles.hooked",
        {"kind": 5, "source": "hook"},
        ["particle 'hooked'", "field 'kind' must be a non-empty string"],
    ),
]
CASES = TOP_LEVEL + PARTICLE


@pytest.mark.parametrize(("path", "value", "words"), CASES, ids=[f"{c[0]}={c[1]!r:.40}" for c in CASES])
def test_a_manifest_field_of_the_wrong_type_is_a_problem_naming_it(
    tmp_path: Path, manifest: dict[str, Any], path: str, value: Any, words: list[str]
) -> None:
    data = json.dumps(_set(manifest, path, value)).encode()
    info = inspect_wheel(write_wheel(tmp_path, "demo", ["enc"], manifest=data))
    problems = [p for p in info.problems if MEMBER in p]
    assert problems, info.problems
    text = problems[0]
    for word in words:
        assert word in text, (word, text)
    assert "sora manifest DIST --write" in text  # the fix
    if path.startswith(P + "."):
        assert "particle 'enc'" in text
        assert not [p for p in info.particles if p.name == "enc"]  # nothing about it is published


@pytest.mark.parametrize(("path", "value", "words"), CASES, ids=[f"{c[0]}={c[1]!r:.40}" for c in CASES])
def test_parsing_a_bad_manifest_directly_raises_manifest_error(
    manifest: dict[str, Any], path: str, value: Any, words: list[str]
) -> None:
    data = _set(manifest, path, value)
    with pytest.raises(ManifestError) as caught:
        parsed = parse_manifest(data, Path(MEMBER))
        for name in parsed.particles:
            particle_info(parsed, name, "demo", "1.0.0", "demo.particles:Enc")
    assert words[-1] in caught.value.message
    assert caught.value.hint


def test_a_generated_manifest_with_every_field_set_passes(tmp_path: Path, manifest: dict[str, Any]) -> None:
    rich = _set(manifest, f"{P}.config_schema", _PYDANTIC_STYLE_SCHEMA)
    rich = _set(rich, "kinds", [{"name": "k", "description": "", "inputs": ["a"], "outputs": [], "learned": False}])
    rich = _set(rich, "spaces", [{"tag": "text/x@1", "description": "a space"}])
    rich = _set(rich, "templates", ["t2v"])
    rich = _set(rich, f"{P}.inputs", {"x": {**PORT, "space": "text/*", "optional": True, "description": "d"}})
    rich = _set(rich, f"{P}.pretrained_on_create", True)
    info = inspect_wheel(write_wheel(tmp_path, "demo", ["enc"], manifest=json.dumps(rich).encode()))
    assert info.problems == []
    assert info.particles[0].config_schema == _PYDANTIC_STYLE_SCHEMA


_PYDANTIC_STYLE_SCHEMA = {
    "$defs": {"Inner": {"properties": {"a": {"type": "integer"}}, "required": ["a"], "type": "object"}},
    "additionalProperties": False,
    "properties": {
        "size": {"default": 8, "description": "features", "title": "Size", "type": "integer"},
        "mode": {"enum": ["a", "b"], "type": "string", "default": "a"},
        "maybe": {"anyOf": [{"type": "number"}, {"type": "null"}], "default": None},
        "inner": {"$ref": "#/$defs/Inner"},
        "pair": {"maxItems": 2, "minItems": 2, "prefixItems": [{"type": "integer"}, {"type": "string"}]},
        "tags": {"items": {"type": "string"}, "type": "array"},
    },
    "title": "Config",
    "type": "object",
}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"format": 1, "particles": ' + "[" * 100_000 + "]" * 100_000 + "}", ["nests JSON 100001 levels deep"]),
        ('{"format": 1, "particles": {"enc": ' + '{"a":' * 100_000 + "1" + "}" * 100_001 + "}", ["nests JSON"]),
        ("[" * 65 + "]" * 65, ["nests JSON 65 levels deep, more than the limit of 64"]),
        ('{"format": 1, "particles": {"enc": {"kind": "video_generator", "x": "\\ud800"}}', ["not valid JSON"]),
        ("{not json", ["is not valid JSON"]),
    ],
    ids=["array-100k-deep", "object-100k-deep", "65-deep", "unterminated", "not-json"],
)
def test_deeply_nested_or_broken_manifest_json_is_a_problem(tmp_path: Path, text: str, words: list[str]) -> None:
    info = inspect_wheel(write_wheel(tmp_path, "demo", ["enc"], manifest=text.encode()))
    [problem] = [p for p in info.problems if MEMBER in p]
    for word in words:
        assert word in problem, (word, problem)


def test_non_utf8_manifest_is_a_problem(tmp_path: Path) -> None:
    info = inspect_wheel(write_wheel(tmp_path, "demo", ["enc"], manifest=b'{"format": 1, "x": "\xff"}'))
    assert any(f"{MEMBER} is not UTF-8 text" in p for p in info.problems), info.problems


def test_an_installed_manifest_nested_deeply_is_a_manifest_error(tmp_path: Path) -> None:
    path = tmp_path / "sora_manifest.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(ManifestError) as caught:
        load_manifest_json(path)
    assert str(path) in caught.value.message and "nests JSON" in caught.value.message
    assert "sora manifest DIST --write" in (caught.value.hint or "")
