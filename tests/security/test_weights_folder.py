"""A weights folder is data, never code: hostile folders are refused with a ``WeightsError`` naming the file.

Each folder here is what a hostile author could hand a user: a ``config.json`` naming a module to import, a
``payload.py`` beside the weights (with the manifest regenerated so every hash matches), JSON nested far too deep,
links out of the folder, a pickle beside the safetensors, tensors whose data overlap.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import safetensors.torch
import torch

from sora_core import registry
from sora_core.errors import (
    ConfigError,
    CorruptWeightsError,
    UnknownParticleClassError,
    UnsafeWeightsError,
    WeightsError,
)
from sora_core.interfaces import ModuleParticle
from sora_core.safetensors_io import MAX_JSON_SIZE, read_config, read_header, write_manifest

PARTICLE = "sora-seed:additive-attention"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A real installed particle saved by ``save_pretrained``."""
    directory = tmp_path / "weights"
    registry.create(PARTICLE, query_size=8, context_size=8).save_pretrained(directory)
    return directory


def _rewrite_config(directory: Path, *, drop: tuple[str, ...] = (), **changes: object) -> None:
    config = json.loads((directory / "config.json").read_text())
    config.update(changes)
    for key in drop:
        config.pop(key, None)
    (directory / "config.json").write_text(json.dumps(config))
    write_manifest(directory)  # an attacker regenerates the manifest, so every hash matches


def _plant_payload(directory: Path, marker: Path) -> None:
    (directory / "payload.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\nclass Evil:\n    pass\n"
    )
    _rewrite_config(directory, drop=("name",), particle="payload:Evil")


# --- class 1: nothing is imported from a weights folder ---------------------------------------------------------


def test_saved_config_names_the_particle_by_registry_name(folder: Path) -> None:
    config = read_config(folder)
    assert config["name"] == PARTICLE
    assert type(ModuleParticle.from_pretrained(folder)).__name__ == "AdditiveAttention"


@pytest.mark.parametrize("loader", ["registry", "base-class"])
def test_payload_beside_the_weights_never_runs(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loader: str
) -> None:
    marker = tmp_path / "payload-ran"
    _plant_payload(folder, marker)
    monkeypatch.syspath_prepend(str(folder))  # the worst case: the folder is importable (the user's cwd)
    monkeypatch.chdir(folder)
    with pytest.raises(WeightsError) as excinfo:
        if loader == "registry":
            registry.load(PARTICLE, weights=folder)
        else:
            ModuleParticle.from_pretrained(folder)
    assert isinstance(excinfo.value, UnknownParticleClassError)
    assert "payload:Evil" in excinfo.value.message and "config.json" in excinfo.value.message
    assert not marker.exists()
    assert "payload" not in sys.modules


def test_cli_load_does_not_import_a_module_named_in_config(folder: Path) -> None:
    _rewrite_config(folder, drop=("name",), particle="this:Nothing")
    code = (
        "import sys\nfrom sora_core.cli.main import main\n"
        f"rc = main(['load', {PARTICLE!r}, '--weights', {str(folder)!r}])\n"
        "sys.stderr.write('IMPORTED this' if 'this' in sys.modules else '')\nsys.exit(rc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "Beautiful is better than ugly" not in result.stdout  # `import this` prints the Zen of Python
    assert "IMPORTED this" not in result.stderr
    assert result.stderr.startswith("error: ") and "'this:Nothing'" in result.stderr and "hint:" in result.stderr


def test_name_of_an_uninstalled_particle_is_refused(folder: Path) -> None:
    _rewrite_config(folder, name="evil-dist:evil", particle="os:system")
    with pytest.raises(UnknownParticleClassError) as excinfo:
        ModuleParticle.from_pretrained(folder)
    assert "evil-dist:evil" in excinfo.value.message and "not installed" in excinfo.value.message


def test_name_of_another_kind_of_particle_is_refused(folder: Path) -> None:
    other = registry.info("sora-seed:lstm-text-encoder")
    _rewrite_config(folder, name=other.full_name, particle=other.entry_point)
    with pytest.raises(WeightsError) as excinfo:
        registry.load(PARTICLE, weights=folder)
    assert "sora-seed:lstm-text-encoder" in excinfo.value.message


def test_name_must_be_a_string(folder: Path) -> None:
    _rewrite_config(folder, name=["os", "system"])
    with pytest.raises(CorruptWeightsError, match="'name'"):
        registry.load(PARTICLE, weights=folder)


# --- class 11: JSON nesting and size, links, special files, pickles ---------------------------------------------


@pytest.mark.parametrize("file", ["config.json", "manifest.json"])
def test_deeply_nested_json_is_corrupt_weights(folder: Path, file: str) -> None:
    (folder / file).write_text("[" * 200_000 + "]" * 200_000)
    if file == "config.json":
        write_manifest(folder)
    with pytest.raises(CorruptWeightsError, match="levels deep") as excinfo:
        registry.load(PARTICLE, weights=folder)
    assert file in excinfo.value.message


def test_deeply_nested_shard_index_is_corrupt_weights(folder: Path) -> None:
    (folder / "model.safetensors.index.json").write_text('{"weight_map":' + "[" * 200_000 + "]" * 200_000 + "}")
    write_manifest(folder)
    with pytest.raises(CorruptWeightsError, match="levels deep"):
        registry.load(PARTICLE, weights=folder)


def test_oversized_config_is_refused_before_it_is_read(folder: Path) -> None:
    with (folder / "config.json").open("a") as file:
        file.truncate(MAX_JSON_SIZE + 1)
    write_manifest(folder)
    with pytest.raises(CorruptWeightsError, match="limit") as excinfo:
        registry.load(PARTICLE, weights=folder)
    assert "config.json" in excinfo.value.message


def test_link_out_of_the_folder_is_refused(folder: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.safetensors"
    (folder / "model.safetensors").rename(outside)
    (folder / "model.safetensors").symlink_to(outside)
    with pytest.raises(UnsafeWeightsError) as excinfo:
        registry.load(PARTICLE, weights=folder)
    assert "symbolic link" in excinfo.value.message and str(outside) in excinfo.value.message


def test_link_inside_the_folder_is_followed(folder: Path) -> None:
    (folder / "model.safetensors").rename(folder / "real.bytes")
    (folder / "model.safetensors").symlink_to("real.bytes")
    assert registry.load(PARTICLE, weights=folder).kind == "cross_modal_attention"


def test_link_to_a_device_is_refused(folder: Path) -> None:
    (folder / "config.json").unlink()
    (folder / "config.json").symlink_to("/dev/zero")
    with pytest.raises(UnsafeWeightsError, match=r"config\.json"):
        registry.load(PARTICLE, weights=folder)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_in_the_folder_is_refused(folder: Path) -> None:
    (folder / "model.safetensors").unlink()
    os.mkfifo(folder / "model.safetensors")  # reading it would block forever
    with pytest.raises(UnsafeWeightsError, match="not a regular file"):
        registry.load(PARTICLE, weights=folder)


@pytest.mark.parametrize("name", ["pytorch_model.bin", "extra.pt", "notes.txt"])
def test_pickle_beside_safetensors_refuses_the_folder(folder: Path, name: str) -> None:
    (folder / name).write_bytes(pickle.dumps({"weight": [1.0, 2.0]}))
    with pytest.raises(UnsafeWeightsError) as excinfo:
        registry.load(PARTICLE, weights=folder)
    assert name in excinfo.value.message


def test_harmless_extra_files_are_allowed(folder: Path) -> None:
    (folder / "README.md").write_text("# my attention weights\n")
    assert registry.load(PARTICLE, weights=folder).kind == "cross_modal_attention"


# --- safetensors layouts that safetensors itself would refuse late, or map twice --------------------------------


def _raw_safetensors(path: Path, header: dict[str, object], data: bytes) -> None:
    raw = json.dumps(header).encode()
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + data)


@pytest.mark.parametrize(
    ("offsets", "data_size", "fragment"),
    [
        ([(0, 16), (8, 24)], 24, "overlapping"),
        ([(0, 16), (0, 16)], 16, "overlapping"),
        ([(0, 16), (20, 36)], 36, "unused"),
        ([(0, 16), (16, 32)], 40, "after its last tensor"),
    ],
)
def test_tensor_layout_must_tile_the_data(
    tmp_path: Path, offsets: list[tuple[int, int]], data_size: int, fragment: str
) -> None:
    header = {f"t{i}": {"dtype": "F32", "shape": [4], "data_offsets": list(pair)} for i, pair in enumerate(offsets)}
    path = tmp_path / "overlap.safetensors"
    _raw_safetensors(path, header, bytes(data_size))
    with pytest.raises(CorruptWeightsError, match=fragment) as excinfo:
        ModuleParticle.from_pretrained(path)
    assert str(path) in excinfo.value.message


def test_clean_file_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "ok.safetensors"
    safetensors.torch.save_file({"a": torch.zeros(4), "b": torch.ones(2, 2)}, str(path))
    assert set(read_header(path).tensors) == {"a", "b"}


def test_folder_saved_by_another_particle_of_the_same_class_is_refused(folder: Path) -> None:
    _rewrite_config(folder, name="sora-seed:lstm-text-encoder")  # the class string still matches
    with pytest.raises(WeightsError) as excinfo:
        registry.load(PARTICLE, weights=folder)
    assert "saved by particle sora-seed:lstm-text-encoder, not sora-seed:additive-attention" in excinfo.value.message


@pytest.mark.parametrize(
    ("particle", "field", "value"),
    [
        ("sora-seed:lstm-text-encoder", "hidden_size", 10**11),
        ("sora-seed:lstm-text-encoder", "num_layers", 10**6),
        ("sora-dit:dit-denoiser", "depth", 10**7),
    ],
)
def test_absurd_sizes_in_config_json_are_config_errors(tmp_path: Path, particle: str, field: str, value: int) -> None:
    directory = tmp_path / "w"
    registry.create(particle).save_pretrained(directory)
    config = json.loads((directory / "config.json").read_text())
    config["config"][field] = value
    (directory / "config.json").write_text(json.dumps(config))
    write_manifest(directory)
    with pytest.raises(ConfigError) as excinfo:
        registry.load(particle, weights=directory)
    assert "config.json" in excinfo.value.message and (
        field in excinfo.value.message or "cannot be built" in excinfo.value.message
    )
