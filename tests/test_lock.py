"""Lock files: what `sora lock` pins per node, and every drift `sora run --locked` refuses, with the errors it gives."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from sora_core import __version__
from sora_core.errors import IncompatibleSwapError, LockDriftError, LockFileError, SoraError
from sora_core.pipeline import Pipeline
from sora_core.pipeline.lock import (
    FORMAT,
    canonical_sha256,
    check_lock,
    lock_data,
    lock_drift,
    read_lock,
    write_lock,
)
from sora_core.registry import Registry
from sora_core.safetensors_io import sha256_file

ATTENTION = "sora-seed:additive-attention"
GENERATOR = "sora-seed:lstm-video-generator"
SEED_INPUTS = ("--input", "text=randn:2,5,512", "--input", "video_features=randn:2,3,512")


@pytest.fixture
def registry() -> Registry:
    return Registry()


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    """A copy of the installed seed template as a YAML spec file."""
    path = tmp_path / "seed.yaml"
    write_spec(path, Pipeline.from_template("seed", materialize=False).spec.to_data())
    return path


def write_spec(path: Path, data: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")


def edit_spec(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    write_spec(path, data)


def edit_lock(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def drift_of(pipe: Pipeline, lock: Path) -> list[str]:
    return lock_drift(pipe, read_lock(lock))


def subclass(registry: Registry, name: str, **attributes: Any) -> type:
    """A new particle class deriving from the seed's attention, defined in this module."""
    base = registry.get_class(ATTENTION)
    return type(name, (base,), {"__module__": __name__, "__qualname__": name, **attributes})


# --- what a lock records -----------------------------------------------------------------------------------


def test_lock_then_check_passes_on_an_unchanged_pipeline(spec_file: Path, tmp_path: Path) -> None:
    lock = write_lock(Pipeline.from_spec(spec_file), tmp_path / "seed.lock.json")
    assert lock == tmp_path / "seed.lock.json"
    text = lock.read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
    rebuilt = Pipeline.from_spec(spec_file)  # fresh random weights: not pinned, so not drift
    check_lock(rebuilt, lock)
    assert drift_of(rebuilt, lock) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seed.lock.json", "seed.yaml"]  # no temp file left


def test_lock_records_distribution_class_config_and_graph(registry: Registry) -> None:
    pipe = Pipeline.from_template("seed", registry=registry)
    data = lock_data(pipe)
    assert data["format"] == FORMAT
    assert data["pipeline"] == "seed"
    assert data["sora_core"] == __version__
    assert "video_decoder.hidden -> attention.query" in data["graph"]["edges"]
    assert data["graph"]["outputs"] == {"video": "generator.video"}
    assert data["graph_sha256"] == canonical_sha256(data["graph"])
    assert list(data["nodes"]) == pipe.order
    node = data["nodes"]["attention"]
    assert node["particle"] == ATTENTION
    assert node["distribution"] == "sora-seed"
    assert node["version"] == registry.info(ATTENTION).dist_version
    assert node["class"] == "sora_seed.attention:AdditiveAttention"
    assert node["config"] == pipe.nodes["attention"].config.model_dump(mode="json")
    assert node["config_sha256"] == canonical_sha256(node["config"])
    assert node["weights"] is None
    assert node["files"] == {}
    assert read_lock_round_trip(data) == data


def read_lock_round_trip(data: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(data))


def test_runtime_particles_record_no_distribution(registry: Registry) -> None:
    registry.register("wide-attention", subclass(registry, "WideAttention"))
    pipe = Pipeline.from_template("seed", registry=registry)
    pipe.swap("attention", "runtime:wide-attention")
    node = lock_data(pipe)["nodes"]["attention"]
    assert node["particle"] == "runtime:wide-attention"
    assert node["distribution"] is None
    assert node["version"] is None
    assert node["class"] == f"{__name__}:WideAttention"


def pretrained_wrapper(registry: Registry, source: Path, names: dict[str, str] | None = None) -> type:
    """A user's wrapper whose constructor loads a pretrained file it finds installed (here: ``source``)."""

    def __init__(self: Any, config: Any = None, **overrides: Any) -> None:
        registry.get_class(ATTENTION).__init__(self, config, **overrides)
        self.scale = json.loads(source.read_text(encoding="utf-8"))["scale"]  # what "loading" reads

    def loaded_files(self: Any) -> dict[str, Path]:
        return {name: source.parent / file for name, file in (names or {"my-model/scale.json": source.name}).items()}

    return subclass(
        registry, "PretrainedAttention", pretrained_on_create=True, __init__=__init__, loaded_files=loaded_files
    )


def test_files_a_particle_loads_itself_are_pinned_and_their_drift_refused(registry: Registry, tmp_path: Path) -> None:
    source = tmp_path / "scale.json"
    source.write_text('{"scale": 1.0}', encoding="utf-8")
    registry.register("pretrained-attention", pretrained_wrapper(registry, source))
    pipe = Pipeline.from_template("seed", registry=registry)
    pipe.swap("attention", "runtime:pretrained-attention")
    lock = write_lock(pipe, tmp_path / "seed.lock.json")
    locked = read_lock(lock)["nodes"]["attention"]["files"]
    assert locked == {"my-model/scale.json": sha256_file(source)}
    check_lock(pipe, lock)

    source.write_text('{"scale": 2.0}', encoding="utf-8")  # the installed model changed under the pipeline
    pipe.swap("attention", "runtime:pretrained-attention")
    with pytest.raises(LockDriftError) as caught:
        check_lock(pipe, lock)
    assert (
        ": node 'attention': weight file my-model/scale.json sha256 changed "
        f"(locked {locked['my-model/scale.json'][:12]}..., now {sha256_file(source)[:12]}...)"
    ) in str(caught.value)


def test_loaded_files_that_are_missing_or_clash_with_weight_files_are_refused(
    registry: Registry, tmp_path: Path
) -> None:
    source = tmp_path / "scale.json"
    source.write_text('{"scale": 1.0}', encoding="utf-8")
    registry.register("gone", pretrained_wrapper(registry, source, {"my-model/gone.json": "gone.json"}))
    pipe = Pipeline.from_template("seed", registry=registry)
    pipe.swap("attention", "runtime:gone")
    with pytest.raises(LockFileError, match=r"node 'attention' .* names 'my-model/gone.json' .* is not a file"):
        lock_data(pipe)

    weights = tmp_path / "saved"
    registry.register("clash", pretrained_wrapper(registry, source, {"config.json": "scale.json"}))
    registry.create("runtime:clash").save_pretrained(weights)
    pipe.swap("attention", "runtime:clash", weights=str(weights))
    with pytest.raises(LockFileError, match=r"names config\.json both as a weight file and as a file it loaded"):
        lock_data(pipe)


# --- drift -------------------------------------------------------------------------------------------------


def test_config_drift_names_the_node_and_the_changed_key(spec_file: Path, tmp_path: Path) -> None:
    lock = write_lock(Pipeline.from_spec(spec_file), tmp_path / "seed.lock.json")
    locked_hash = read_lock(lock)["nodes"]["generator"]["config_sha256"]
    edit_spec(spec_file, lambda d: d["nodes"]["generator"].update(config={"hidden_size": 128}))
    pipe = Pipeline.from_spec(spec_file)
    assert drift_of(pipe, lock) == [
        f"node 'generator': config hash changed (locked {locked_hash[:12]}..., "
        f"now {canonical_sha256(pipe.nodes['generator'].config.model_dump(mode='json'))[:12]}...): "
        "hidden_size 256 -> 128"
    ]
    with pytest.raises(LockDriftError) as caught:
        check_lock(pipe, lock)
    assert caught.value.message.startswith(f"pipeline 'seed' does not match lock file {lock}: node 'generator'")
    assert "\n" not in caught.value.message
    assert caught.value.hint is not None
    assert f"sora lock SPEC_OR_TEMPLATE -o {lock}" in caught.value.hint


def test_node_dtype_change_is_drift(spec_file: Path, tmp_path: Path) -> None:
    lock = write_lock(Pipeline.from_spec(spec_file), tmp_path / "seed.lock.json")
    edit_spec(spec_file, lambda d: d["nodes"]["attention"].update(dtype="float64"))
    assert drift_of(Pipeline.from_spec(spec_file), lock) == ["node 'attention': dtype null locked, \"float64\" now"]


def test_swap_to_another_config_is_drift(registry: Registry, tmp_path: Path) -> None:
    pipe = Pipeline.from_template("seed", registry=registry)
    lock = write_lock(pipe, tmp_path / "seed.lock.json")
    pipe.swap("attention", ATTENTION, attention_size=64)
    (drift,) = drift_of(pipe, lock)
    assert drift.startswith("node 'attention': config hash changed (locked ")
    assert drift.endswith("attention_size 256 -> 64")


def test_swap_to_another_particle_names_particle_distribution_and_class(registry: Registry, tmp_path: Path) -> None:
    registry.register("wide-attention", subclass(registry, "WideAttention"))
    pipe = Pipeline.from_template("seed", registry=registry)
    lock = write_lock(pipe, tmp_path / "seed.lock.json")
    version = registry.info(ATTENTION).dist_version
    pipe.swap("attention", "runtime:wide-attention")
    assert drift_of(pipe, lock) == [
        f"node 'attention': particle {ATTENTION} locked, runtime:wide-attention now",
        f"node 'attention': distribution sora-seed {version} locked, none (registered at run time) now",
        f"node 'attention': class sora_seed.attention:AdditiveAttention locked, {__name__}:WideAttention now",
    ]


def test_version_drift_names_distribution_and_both_versions(registry: Registry, tmp_path: Path) -> None:
    pipe = Pipeline.from_template("seed", registry=registry)
    lock = write_lock(pipe, tmp_path / "seed.lock.json")
    installed = registry.info(ATTENTION).dist_version

    def downgrade(data: dict[str, Any]) -> None:
        data["nodes"]["attention"]["version"] = "0.0.1"
        data["sora_core"] = "0.0.9"

    edit_lock(lock, downgrade)
    assert drift_of(pipe, lock) == [
        f"sora-core version 0.0.9 locked, {__version__} installed",
        f"node 'attention': sora-seed version 0.0.1 locked, {installed} installed",
    ]
    with pytest.raises(LockDriftError) as caught:
        check_lock(pipe, lock)
    assert "(2 differences):\n  - sora-core version" in caught.value.message
    assert caught.value.hint is not None
    assert "pip install sora-core==0.0.9 sora-seed==0.0.1" in caught.value.hint


def test_weight_files_are_hashed_and_their_drift_reported(registry: Registry, tmp_path: Path) -> None:
    weights = tmp_path / "generator-weights"
    torch.manual_seed(0)
    registry.create(GENERATOR).save_pretrained(weights)
    spec = tmp_path / "seed.yaml"
    data = Pipeline.from_template("seed", registry=registry, materialize=False).spec.to_data()
    data["nodes"]["generator"]["weights"] = "generator-weights"  # relative to the spec file
    write_spec(spec, data)
    lock = write_lock(Pipeline.from_spec(spec, registry=registry), tmp_path / "seed.lock.json")
    node = read_lock(lock)["nodes"]["generator"]
    assert node["weights"] == "generator-weights"
    assert node["files"] == {
        "config.json": sha256_file(weights / "config.json"),
        "model.safetensors": sha256_file(weights / "model.safetensors"),
    }
    check_lock(Pipeline.from_spec(spec, registry=registry), lock)

    torch.manual_seed(1)
    registry.create(GENERATOR).save_pretrained(weights)  # same config, other weights
    (drift,) = drift_of(Pipeline.from_spec(spec, registry=registry), lock)
    assert drift == (
        "node 'generator': weight file model.safetensors sha256 changed "
        f"(locked {node['files']['model.safetensors'][:12]}..., "
        f"now {sha256_file(weights / 'model.safetensors')[:12]}...)"
    )


def test_default_weights_are_hashed_from_their_manifest(registry: Registry, tmp_path: Path) -> None:
    shipped = tmp_path / "shipped"
    registry.create(ATTENTION).save_pretrained(shipped)
    registry.register("shipped-attention", subclass(registry, "ShippedAttention", default_weights=str(shipped)))
    pipe = Pipeline.from_template("seed", registry=registry)
    pipe.swap("attention", "runtime:shipped-attention", weights="default")
    manifest = json.loads((shipped / "manifest.json").read_text())["files"]
    node = lock_data(pipe)["nodes"]["attention"]
    assert node["weights"] == "default"
    assert node["files"] == {name: entry["sha256"] for name, entry in manifest.items()}
    assert set(node["files"]) == {"config.json", "model.safetensors"}


def test_fresh_node_after_weights_is_drift(registry: Registry, tmp_path: Path) -> None:
    weights = tmp_path / "attention-weights"
    registry.create(ATTENTION).save_pretrained(weights)
    pipe = Pipeline.from_template("seed", registry=registry)
    pipe.swap("attention", ATTENTION, weights=str(weights))
    lock = write_lock(pipe, tmp_path / "seed.lock.json")
    pipe.swap("attention", ATTENTION)
    assert drift_of(pipe, lock) == [
        f"node 'attention': weights \"{weights}\" locked, null now",
        "node 'attention': weight file config.json is locked but no longer there",
        "node 'attention': weight file model.safetensors is locked but no longer there",
    ]


def test_a_relative_weights_path_given_to_swap_is_read_from_the_working_directory(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry.create(ATTENTION).save_pretrained(tmp_path / "mine")
    monkeypatch.chdir(tmp_path)
    pipe = Pipeline.from_template("seed", registry=registry)  # its base folder is the template's, not tmp_path
    pipe.swap("attention", ATTENTION, weights="mine")
    assert pipe.spec.nodes["attention"].weights == str((tmp_path / "mine").resolve())
    with pytest.raises(IncompatibleSwapError, match="missing"):
        pipe.swap("attention", ATTENTION, weights="missing")


def test_renamed_node_is_removed_and_added(spec_file: Path, tmp_path: Path) -> None:
    lock = write_lock(Pipeline.from_spec(spec_file), tmp_path / "seed.lock.json")

    def rename(data: dict[str, Any]) -> None:
        data["nodes"]["video_generator"] = data["nodes"].pop("generator")
        data["outputs"]["video"] = "video_generator.video"
        data["edges"] = [e.replace("generator.condition", "video_generator.condition") for e in data["edges"]]

    edit_spec(spec_file, rename)
    drifts = drift_of(Pipeline.from_spec(spec_file), lock)
    assert drifts[0].startswith("graph rewired (locked ")
    assert "edge 'attention.tokens -> generator.condition' removed" in drifts[0]
    assert "edge 'attention.tokens -> video_generator.condition' added" in drifts[0]
    assert 'output \'video\' "generator.video" -> "video_generator.video"' in drifts[0]
    assert drifts[1:] == [
        "node 'video_generator' is in the pipeline but not in the lock",
        "node 'generator' is in the lock but not in the pipeline",
    ]


def test_rewiring_is_drift(spec_file: Path, tmp_path: Path) -> None:
    lock = write_lock(Pipeline.from_spec(spec_file), tmp_path / "seed.lock.json")

    def rewire(data: dict[str, Any]) -> None:
        data["edges"].remove("text_encoder.mask -> attention.mask")  # an optional port: still a valid graph
        data["outputs"] = {"clip": data["outputs"].pop("video")}
        data["name"] = "seed-rewired"

    edit_spec(spec_file, rewire)
    drifts = drift_of(Pipeline.from_spec(spec_file), lock)
    assert drifts[0] == "pipeline name 'seed' locked, 'seed-rewired' now"
    assert drifts[1].endswith(
        "edge 'text_encoder.mask -> attention.mask' removed; "
        "output 'clip' added (\"generator.video\"); output 'video' removed"
    )
    assert len(drifts) == 2


def test_every_drift_is_listed_at_once(spec_file: Path, tmp_path: Path) -> None:
    lock = write_lock(Pipeline.from_spec(spec_file), tmp_path / "seed.lock.json")
    edit_spec(spec_file, lambda d: d["nodes"]["generator"].update(config={"hidden_size": 64}))
    edit_spec(spec_file, lambda d: d["nodes"]["attention"].update(config={"attention_size": 32}))
    edit_lock(lock, lambda d: d["nodes"]["text_encoder"].update(version="9.9.9"))
    with pytest.raises(LockDriftError) as caught:
        check_lock(Pipeline.from_spec(spec_file), lock)
    lines = caught.value.message.splitlines()
    assert "(3 differences)" in lines[0]
    assert [line.split(":")[0] for line in lines[1:]] == [
        "  - node 'text_encoder'",
        "  - node 'attention'",
        "  - node 'generator'",
    ]


# --- unreadable locks --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "does not exist"),
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "is not a sora lock file (no 'format' field)"),
        ('{"format": 2}', "has format 2; this sora-core reads format 1"),
        ('{"format": 1, "pipeline": "seed"}', "is invalid: sora_core: Field required"),
    ],
)
def test_unreadable_lock_files_are_clear_errors_naming_the_file(
    tmp_path: Path, content: str | None, fragment: str
) -> None:
    path = tmp_path / "seed.lock.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(LockFileError) as caught:
        read_lock(path)
    assert isinstance(caught.value, SoraError)
    assert caught.value.message.startswith(f"lock file {path} ")
    assert fragment in caught.value.message
    assert caught.value.hint


def test_a_directory_is_not_a_lock_file(tmp_path: Path) -> None:
    with pytest.raises(LockFileError, match="is a directory"):
        read_lock(tmp_path)


def test_hand_edits_that_break_a_hash_are_invalid(registry: Registry, tmp_path: Path) -> None:
    lock = write_lock(Pipeline.from_template("seed", registry=registry), tmp_path / "seed.lock.json")
    edit_lock(lock, lambda d: d["nodes"]["attention"]["config"].update(attention_size=1))
    with pytest.raises(LockFileError, match=r"nodes\.attention: config does not match config_sha256"):
        read_lock(lock)
    edit_lock(lock, lambda d: d["nodes"]["attention"].update(config_sha256="abc"))
    with pytest.raises(LockFileError, match=r"nodes\.attention\.config_sha256: String should match pattern"):
        read_lock(lock)


def test_check_and_drift_refuse_invalid_locks(registry: Registry, tmp_path: Path) -> None:
    pipe = Pipeline.from_template("seed", registry=registry)
    with pytest.raises(LockFileError, match=r"missing\.lock\.json does not exist"):
        check_lock(pipe, tmp_path / "missing.lock.json")
    with pytest.raises(LockFileError, match="lock data has format 3"):
        lock_drift(pipe, {"format": 3})


def test_write_lock_errors_and_atomic_replacement(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipe = Pipeline.from_template("seed", registry=registry)
    with pytest.raises(LockFileError, match=r"cannot write lock file .*no-such-dir"):
        write_lock(pipe, tmp_path / "no-such-dir" / "seed.lock.json")
    lock = write_lock(pipe, tmp_path / "seed.lock.json")
    before = lock.read_text()

    def fail(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("sora_core.pipeline.lock.os.replace", fail)
    pipe.swap("attention", ATTENTION, attention_size=8)
    with pytest.raises(LockFileError, match="No space left on device"):
        write_lock(pipe, lock)
    assert lock.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["seed.lock.json"]


# --- the command line --------------------------------------------------------------------------------------


def sora(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sora_core.cli.main", *args], capture_output=True, text=True, timeout=300, cwd=cwd
    )


def test_cli_lock_writes_the_file(tmp_path: Path) -> None:
    lock = tmp_path / "pinned.json"
    result = sora("lock", "seed", "-o", str(lock))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wrote {lock}"
    assert set(read_lock(lock)["nodes"]) == {"text_encoder", "video_decoder", "attention", "generator"}
    default = sora("lock", "seed", cwd=tmp_path)
    assert default.returncode == 0, default.stderr
    assert read_lock(tmp_path / "seed.lock.json")["pipeline"] == "seed"


def test_cli_run_locked_runs_unchanged_and_refuses_drift(spec_file: Path, tmp_path: Path) -> None:
    lock = tmp_path / "seed.lock.json"
    assert sora("lock", str(spec_file), "-o", str(lock)).returncode == 0
    unchanged = sora("run", str(spec_file), *SEED_INPUTS, "--locked", str(lock), "--json")
    assert unchanged.returncode == 0, unchanged.stderr
    assert json.loads(unchanged.stdout)["outputs"]["video"]["shape"] == [2, 3, 512]

    edit_spec(spec_file, lambda d: d["nodes"]["generator"].update(config={"hidden_size": 128}))
    drifted = sora("run", str(spec_file), *SEED_INPUTS, "--locked", str(lock))
    assert drifted.returncode == 1
    assert drifted.stdout == ""
    assert "Traceback" not in drifted.stderr
    error, hint = drifted.stderr.splitlines()
    assert error.startswith(f"error: pipeline 'seed' does not match lock file {lock}: node 'generator': ")
    assert error.endswith("hidden_size 256 -> 128")
    assert hint.startswith("  hint: if the changes are intended, write a new lock with `sora lock")


def test_cli_run_with_a_missing_lock_is_a_clear_error(tmp_path: Path) -> None:
    missing = sora("run", "seed", *SEED_INPUTS, "--locked", str(tmp_path / "nope.json"))
    assert missing.returncode == 1
    assert "Traceback" not in missing.stderr
    assert missing.stderr.startswith(f"error: lock file {tmp_path / 'nope.json'} does not exist\n  hint: ")
