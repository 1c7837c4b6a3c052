"""Importers: the ``sora_register_importers`` hook, finding an importer by name or by the folder it claims,
validating what it writes, ``sora import`` on a synthetic plugin's importer, and listing installed importer
plugins (sora-diffusers) without importing torch, diffusers or transformers."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sora_core.errors import SpecError
from sora_core.importers import Importer, available_importers, find_importer, import_spec, importer_for_folder
from sora_core.registry import Registry
from sora_core.synthetic import write_plugin

HOOKS = '''
"""Hooks of a synthetic plugin contributing one importer (and an object that is not one)."""

import json
from pathlib import Path

from sora_core.hooks import hookimpl


class ToyImporter:
    name = "toy"
    description = "folders with a toy.json spec"

    def claims(self, path):
        return (Path(path) / "toy.json").is_file()

    def to_spec(self, path):
        return json.loads((Path(path) / "toy.json").read_text())


class NotAnImporter:
    name = "half"


@hookimpl
def sora_register_importers():
    return [ToyImporter(), NotAnImporter()]
'''
TOY_SPEC = {
    "name": "toy-pipeline",
    "nodes": {"first": {"particle": "toy-import:alpha"}},
    "inputs": {"x": "first.x"},
    "outputs": {"y": "first.y"},
}
HEAVY = ("torch", "diffusers", "transformers")


def add_importer_plugin(root: Path) -> None:
    """``toy-import``: one particle (``alpha``) and a hook module whose importer is called ``toy``."""
    package = write_plugin(root, "toy-import", ["alpha"])
    (package / "hooks.py").write_text(HOOKS)
    entry_points = root / "toy_import-1.0.0.dist-info" / "entry_points.txt"
    entry_points.write_text(entry_points.read_text() + "\n[sora.plugins]\ntoy = toy_import.hooks\n")


@pytest.fixture
def toy_registry(plugin_root: Path, make_registry) -> Registry:
    add_importer_plugin(plugin_root)
    return make_registry()


@pytest.fixture
def toy_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "toy-model"
    folder.mkdir()
    (folder / "toy.json").write_text(json.dumps(TOY_SPEC))
    return folder


def test_the_hook_s_importers_are_found_by_name(toy_registry: Registry) -> None:
    found = available_importers(toy_registry)
    assert list(found) == ["toy"]  # the object without claims/to_spec is not an importer
    assert isinstance(found["toy"], Importer)
    chosen = find_importer("toy", toy_registry)
    assert type(chosen).__name__ == "ToyImporter" and chosen.description == "folders with a toy.json spec"


def test_an_unknown_importer_name_lists_the_installed_ones(toy_registry: Registry) -> None:
    with pytest.raises(SpecError) as info:
        find_importer("nope", toy_registry)
    assert info.value.message == "no installed plugin imports 'nope' folders"
    assert info.value.hint == "importers installed: toy (folders with a toy.json spec)"


def test_without_importer_plugins_the_hint_says_what_to_install(plugin_root: Path, make_registry) -> None:
    write_plugin(plugin_root, "plain", ["alpha"])
    registry = make_registry()
    assert available_importers(registry) == {}
    with pytest.raises(SpecError) as info:
        find_importer("diffusers", registry)
    assert "none (install a plugin that contributes one, such as sora-diffusers)" in (info.value.hint or "")


def test_a_folder_is_given_to_the_importer_that_claims_it(
    toy_registry: Registry, toy_folder: Path, tmp_path: Path
) -> None:
    assert importer_for_folder(toy_folder, toy_registry).name == "toy"

    unclaimed = tmp_path / "something-else"
    unclaimed.mkdir()
    (unclaimed / "model_index.json").write_text("{}")
    with pytest.raises(SpecError) as info:
        importer_for_folder(unclaimed, toy_registry)
    assert info.value.message == f"{unclaimed} is not a model folder any installed importer reads"
    assert "importers installed: toy" in (info.value.hint or "")

    with pytest.raises(SpecError, match="is not a folder"):
        importer_for_folder(tmp_path / "missing", toy_registry)
    with pytest.raises(SpecError, match="is not a folder"):
        importer_for_folder(toy_folder / "toy.json", toy_registry)


def test_an_imported_spec_is_validated_and_its_errors_name_the_import(toy_registry: Registry, toy_folder: Path) -> None:
    importer = find_importer("toy", toy_registry)
    spec = import_spec(importer, toy_folder)
    assert spec.name == "toy-pipeline" and list(spec.nodes) == ["first"]

    (toy_folder / "toy.json").write_text(json.dumps({**TOY_SPEC, "nodes": {"first": {"particle": 3}}}))
    with pytest.raises(SpecError) as info:
        import_spec(importer, toy_folder)
    assert f"the toy import of {toy_folder}" in info.value.message
    assert "nodes.first.particle" in info.value.message

    with pytest.raises(SpecError, match="is not a folder"):
        import_spec(importer, toy_folder / "toy.json")


# --- through the command line, in fresh interpreters -------------------------------------------------------------


def run_sora(*args: str, root: Path | None = None, cwd: Path | None = None) -> tuple[subprocess.CompletedProcess, dict]:
    """``sora ARGS`` in a fresh interpreter (``root`` on the path), and which heavy libraries it imported."""
    env = dict(os.environ)
    if root is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")])
    code = (
        "import json, sys\n"
        "from sora_core.cli.main import main\n"
        "try:\n"
        "    code = main(sys.argv[1:])\n"
        "except SystemExit as exit:\n"
        "    code = exit.code\n"
        f"sys.stderr.write('\\nIMPORTED ' + json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}) + '\\n')\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )
    marker = [line for line in result.stderr.splitlines() if line.startswith("IMPORTED ")]
    assert marker, result.stderr
    return result, json.loads(marker[-1].removeprefix("IMPORTED "))


def test_sora_import_writes_the_importer_s_spec(plugin_root: Path, toy_folder: Path, tmp_path: Path) -> None:
    add_importer_plugin(plugin_root)
    out = tmp_path / "toy.yaml"
    result, imported = run_sora("import", "toy", str(toy_folder), "-o", str(out), root=plugin_root)
    assert result.returncode == 0, result.stderr
    assert f"{out}: pipeline 'toy-pipeline' with 1 nodes from {toy_folder}" in result.stderr
    assert yaml.safe_load(out.read_text())["nodes"] == {"first": {"particle": "toy-import:alpha"}}
    assert imported == dict.fromkeys(HEAVY, False)

    result, _ = run_sora("import", "nope", str(toy_folder), "-o", str(tmp_path / "x.yaml"), root=plugin_root)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "error: no installed plugin imports 'nope' folders" in result.stderr
    assert "hint: importers installed: " in result.stderr and "toy" in result.stderr
    assert not (tmp_path / "x.yaml").exists()


needs_diffusers_plugin = pytest.mark.skipif(
    importlib.util.find_spec("sora_diffusers") is None, reason="sora-diffusers is not installed"
)


@needs_diffusers_plugin
@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (("list",), "sora-diffusers:wan-transformer"),
        (("list", "--kind", "denoiser"), "sora-diffusers:ltx-transformer"),
        (("info", "sora-diffusers:wan-transformer"), "WanTransformer3DModel"),
        (("import", "--help"), "diffusers"),
    ],
)
def test_listing_the_diffusers_plugin_imports_no_torch_diffusers_or_transformers(
    args: tuple[str, ...], shown: str
) -> None:
    result, imported = run_sora(*args)
    assert result.returncode == 0, result.stderr
    assert shown in result.stdout
    assert imported == dict.fromkeys(HEAVY, False), f"sora {' '.join(args)} imported {imported}"


@needs_diffusers_plugin
def test_listing_by_kind_shows_only_that_kind() -> None:
    result, _ = run_sora("list", "--kind", "denoiser", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["particles"]
    names = {row["name"] for row in rows}
    assert {f"sora-diffusers:{f}-transformer" for f in ("wan", "cogvideox", "ltx")} <= names
    assert {row["kind"] for row in rows} == {"denoiser"}
