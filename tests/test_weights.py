"""save_pretrained / from_pretrained: layout, hashes, sharding, ties, atomicity, and every refusal path."""

from __future__ import annotations

import hashlib
import json
import pickle
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest
import safetensors.torch
import torch
from pydantic import Field
from torch import nn

import sora_core.registry
from sora_core.config import ParticleConfig
from sora_core.errors import (
    ConfigError,
    CorruptWeightsError,
    HashMismatchError,
    MissingWeightsError,
    SoraError,
    TensorMismatchError,
    UnknownParticleClassError,
    UnsafeWeightsError,
    WeightsError,
)
from sora_core.interfaces import ModuleParticle
from sora_core.particle import WeightlessParticle
from sora_core.ports import PortSpec
from sora_core.registry import Registry
from sora_core.safetensors_io import parse_size
from sora_core.weights import ALIASES_KEY, read_config, verify_directory

# --- test particles -----------------------------------------------------------------------------------------------


class TinyConfig(ParticleConfig):
    dim: int = Field(4, ge=1)
    hidden: int = Field(8, ge=1)


class Tiny(ModuleParticle):
    """Two linears, a persistent buffer and a non-contiguous (transposed) buffer."""

    kind: ClassVar[str] = "video_generator"
    Config: ClassVar[type[ParticleConfig]] = TinyConfig
    #: The default device of each construction, to prove that loading builds on meta.
    constructed_on: ClassVar[list[str]] = []

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        Tiny.constructed_on.append(torch.empty(0).device.type)
        dim, hidden = self.config.dim, self.config.hidden
        self.proj = nn.Linear(dim, hidden)
        self.out = nn.Linear(hidden, dim, bias=False)
        self.register_buffer("scale", torch.linspace(0.5, 1.5, dim))
        self.register_buffer("mix", torch.arange(dim * 3, dtype=torch.float32).reshape(dim, 3).t())

    def input_ports(self) -> dict[str, PortSpec]:
        return {"x": PortSpec("float32", "B D")}

    def output_ports(self) -> dict[str, PortSpec]:
        return {"y": PortSpec("float32", "B D")}

    def forward(self, **inputs: Any) -> dict[str, Any]:
        hidden = torch.relu(self.proj(inputs["x"]))
        return {"y": self.out(hidden) * self.scale + self.mix.sum(0)}


class TiedConfig(ParticleConfig):
    vocab: int = 10
    dim: int = 4


class Tied(ModuleParticle):
    """An embedding whose weight is tied to the output head, as language models do."""

    kind: ClassVar[str] = "text_encoder"
    Config: ClassVar[type[ParticleConfig]] = TiedConfig

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.embed = nn.Embedding(self.config.vocab, self.config.dim)
        self.head = nn.Linear(self.config.dim, self.config.vocab, bias=False)
        self.head.weight = self.embed.weight

    def input_ports(self) -> dict[str, PortSpec]:
        return {"ids": PortSpec("int64", "B L")}

    def output_ports(self) -> dict[str, PortSpec]:
        return {"logits": PortSpec("float32", "B L V")}

    def forward(self, **inputs: Any) -> dict[str, Any]:
        return {"logits": self.head(self.embed(inputs["ids"]))}


class Rotary(ModuleParticle):
    """A non-persistent buffer: computed in ``__init__``, absent from the state dict."""

    kind: ClassVar[str] = "patchifier"
    Config: ClassVar[type[ParticleConfig]] = TinyConfig

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.proj = nn.Linear(self.config.dim, self.config.dim)
        self.register_buffer("freqs", torch.arange(self.config.dim) * 0.5, persistent=False)

    def input_ports(self) -> dict[str, PortSpec]:
        return {"x": PortSpec("float32", "B D")}

    def output_ports(self) -> dict[str, PortSpec]:
        return {"y": PortSpec("float32", "B D")}

    def forward(self, **inputs: Any) -> dict[str, Any]:
        return {"y": self.proj(inputs["x"]) * self.freqs}


class StepsConfig(ParticleConfig):
    num_steps: int = Field(10, ge=1)
    shift: float = 1.0


class Steps(WeightlessParticle):
    kind: ClassVar[str] = "scheduler"
    Config: ClassVar[type[ParticleConfig]] = StepsConfig

    def input_ports(self) -> dict[str, PortSpec]:
        return {}

    def output_ports(self) -> dict[str, PortSpec]:
        return {"timesteps": PortSpec("any")}

    def forward(self, **inputs: Any) -> dict[str, Any]:
        return {"timesteps": [1 - i / self.config.num_steps for i in range(self.config.num_steps)]}


# --- helpers ------------------------------------------------------------------------------------------------------


def _tiny(seed: int = 0, **config: Any) -> Tiny:
    torch.manual_seed(seed)
    return Tiny(config)


def _rehash(directory: Path) -> None:
    """Rewrite manifest.json after a test edits a file on purpose, so only the edit itself is at fault."""
    files = {
        p.name: {"sha256": hashlib.sha256(p.read_bytes()).hexdigest(), "size": p.stat().st_size}
        for p in sorted(directory.iterdir())
        if p.is_file() and p.name != "manifest.json"
    }
    (directory / "manifest.json").write_text(json.dumps({"format": 1, "files": files}))


def _edit_config(directory: Path, **values: Any) -> None:
    payload = json.loads((directory / "config.json").read_text())
    payload["config"].update(values)
    (directory / "config.json").write_text(json.dumps(payload))
    _rehash(directory)


def _rewrite_weights(directory: Path, edit: Any) -> None:
    path = directory / "model.safetensors"
    tensors = safetensors.torch.load_file(path)
    edit(tensors)
    safetensors.torch.save_file(tensors, path)
    _rehash(directory)


def _check(error: SoraError, *fragments: str) -> None:
    for fragment in fragments:
        assert fragment in error.message, f"{fragment!r} not in {error.message!r}"
    assert error.hint, "every error says what would fix it"


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Tiny, Path]:
    particle = _tiny()
    directory = tmp_path / "tiny"
    particle.save_pretrained(directory)
    return particle, directory


@pytest.fixture
def no_unpickling(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a load path unpickled a file")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)


# --- round trips and layout ---------------------------------------------------------------------------------------


def test_round_trip_is_bit_exact(saved: tuple[Tiny, Path]) -> None:
    particle, directory = saved
    loaded = Tiny.from_pretrained(directory)
    assert type(loaded) is Tiny and loaded.config == particle.config and not loaded.training
    original, restored = particle.state_dict(), loaded.state_dict()
    assert original.keys() == restored.keys()
    for name, tensor in original.items():
        assert torch.equal(tensor, restored[name]) and tensor.dtype == restored[name].dtype, name
    assert not particle.mix.is_contiguous()  # stored packed, restored with the same values
    x = torch.randn(3, 4)
    assert torch.equal(particle(x=x)["y"], loaded(x=x)["y"])


def test_loaded_tensors_start_on_64_byte_boundaries(tmp_path: Path) -> None:
    """safetensors packs tensors at odd offsets (a 5-float bias ends 20 bytes in); CPU kernels choose vector
    paths by alignment, so a misaligned weight could compute a few ulps off what was saved."""
    particle = _tiny(dim=5, hidden=7)
    particle.save_pretrained(tmp_path / "odd")
    loaded = Tiny.from_pretrained(tmp_path / "odd")
    misaligned = [name for name, tensor in loaded.state_dict().items() if tensor.data_ptr() % 64]
    assert misaligned == []


def test_layout_config_and_manifest(saved: tuple[Tiny, Path]) -> None:
    _, directory = saved
    assert sorted(p.name for p in directory.iterdir()) == ["config.json", "manifest.json", "model.safetensors"]
    assert read_config(directory) == {
        "particle": f"{Tiny.__module__}:Tiny",
        "kind": "video_generator",
        "config": {"dim": 4, "hidden": 8},
        "format": 1,
    }
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["format"] == 1
    assert sorted(manifest["files"]) == ["config.json", "model.safetensors"]
    for name, entry in manifest["files"].items():
        data = (directory / name).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    verify_directory(directory)


def test_sharded_save_round_trips(tmp_path: Path) -> None:
    particle = _tiny(hidden=64)  # proj.weight alone is 1 KiB
    directory = tmp_path / "sharded"
    particle.save_pretrained(directory, max_shard_size="1KB")
    shards = sorted(p.name for p in directory.glob("model-*.safetensors"))
    assert len(shards) > 1 and shards[0] == f"model-00001-of-{len(shards):05d}.safetensors"
    assert not (directory / "model.safetensors").exists()
    index = json.loads((directory / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"]) == set(particle.state_dict())
    assert set(index["weight_map"].values()) == set(shards)
    assert index["metadata"]["total_size"] == sum(t.numel() * t.element_size() for t in particle.state_dict().values())
    manifest = json.loads((directory / "manifest.json").read_text())
    assert set(manifest["files"]) == {"config.json", "model.safetensors.index.json", *shards}
    loaded = Tiny.from_pretrained(directory)
    for name, tensor in particle.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name]), name


def test_missing_shard_is_named(tmp_path: Path) -> None:
    directory = tmp_path / "sharded"
    _tiny(hidden=64).save_pretrained(directory, max_shard_size=1000)
    shard = sorted(directory.glob("model-*.safetensors"))[-1]
    shard.unlink()
    with pytest.raises(MissingWeightsError) as excinfo:
        Tiny.from_pretrained(directory, verify=False)
    _check(excinfo.value, shard.name, "model.safetensors.index.json")


def test_parse_size() -> None:
    assert parse_size("10KB") == 10_000
    assert parse_size("500MB") == 500_000_000
    assert parse_size("2GB") == 2 * 10**9
    assert parse_size("1GiB") == 2**30
    assert parse_size(1234) == 1234
    for bad in ("lots", "-5MB", 0, "12XB"):
        with pytest.raises(ConfigError):
            parse_size(bad)


def test_tied_weights_are_stored_once_and_retied(tmp_path: Path) -> None:
    torch.manual_seed(0)
    particle = Tied()
    particle.save_pretrained(tmp_path / "tied")
    with safetensors.safe_open(str(tmp_path / "tied" / "model.safetensors"), framework="pt") as file:
        assert list(file.keys()) == ["embed.weight"]
        assert json.loads(file.metadata()[ALIASES_KEY]) == {"head.weight": "embed.weight"}
    loaded = Tied.from_pretrained(tmp_path / "tied")
    assert loaded.head.weight is loaded.embed.weight
    assert len(list(loaded.parameters())) == 1
    assert torch.equal(loaded.embed.weight, particle.embed.weight)
    ids = torch.tensor([[1, 2, 3]])
    assert torch.equal(loaded(ids=ids)["logits"], particle(ids=ids)["logits"])


def test_tie_is_restored_from_a_file_without_alias_metadata(tmp_path: Path) -> None:
    torch.manual_seed(0)
    particle = Tied()
    particle.save_pretrained(tmp_path / "tied")
    _rewrite_weights(tmp_path / "tied", lambda tensors: None)  # drops the metadata, as other tools write it
    loaded = Tied.from_pretrained(tmp_path / "tied")
    assert loaded.head.weight is loaded.embed.weight
    assert torch.equal(loaded.head.weight, particle.embed.weight)


def test_weightless_particle_round_trip(tmp_path: Path) -> None:
    Steps(num_steps=4, shift=3.0).save_pretrained(tmp_path / "steps")
    assert sorted(p.name for p in (tmp_path / "steps").iterdir()) == ["config.json", "manifest.json"]
    loaded = Steps.from_pretrained(tmp_path / "steps")
    assert type(loaded) is Steps and loaded.config == StepsConfig(num_steps=4, shift=3.0)
    assert loaded()["timesteps"] == [1.0, 0.75, 0.5, 0.25]


def test_non_persistent_buffers_are_materialised(tmp_path: Path) -> None:
    torch.manual_seed(0)
    particle = Rotary()
    particle.save_pretrained(tmp_path / "rotary")
    loaded = Rotary.from_pretrained(tmp_path / "rotary")
    assert not loaded.freqs.is_meta and torch.equal(loaded.freqs, particle.freqs)
    assert torch.equal(loaded.proj.weight, particle.proj.weight)
    x = torch.randn(2, 4)
    assert torch.equal(loaded(x=x)["y"], particle(x=x)["y"])


def test_single_safetensors_file_loads_directly(saved: tuple[Tiny, Path], tmp_path: Path) -> None:
    particle, directory = saved
    loaded = Tiny.from_pretrained(directory / "model.safetensors")  # config from the sibling config.json
    assert torch.equal(loaded.proj.weight, particle.proj.weight)
    bare = tmp_path / "elsewhere" / "weights.safetensors"
    bare.parent.mkdir()
    bare.write_bytes((directory / "model.safetensors").read_bytes())
    assert torch.equal(Tiny.from_pretrained(bare).out.weight, particle.out.weight)  # default config fits
    _tiny(hidden=5).save_pretrained(tmp_path / "other")
    bare.write_bytes((tmp_path / "other" / "model.safetensors").read_bytes())
    with pytest.raises(TensorMismatchError) as excinfo:
        Tiny.from_pretrained(bare)  # no manifest, but names and shapes are still checked
    _check(excinfo.value, str(bare), "proj.weight", "(5, 4)", "(8, 4)")


def test_base_class_loads_the_stored_particle_through_the_registry(
    saved: tuple[Tiny, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    particle, directory = saved
    registry = Registry(paths=[])
    monkeypatch.setattr(sora_core.registry, "default_registry", registry)
    with pytest.raises(UnknownParticleClassError) as excinfo:
        ModuleParticle.from_pretrained(directory)  # Tiny is no installed entry point: never imported from the file
    _check(excinfo.value, "config.json", f"{Tiny.__module__}:Tiny", "entry point")
    registry.register("tiny", Tiny)
    loaded = ModuleParticle.from_pretrained(directory)
    assert type(loaded) is Tiny and torch.equal(loaded.proj.weight, particle.proj.weight)


def test_other_particle_class_is_refused(saved: tuple[Tiny, Path]) -> None:
    _, directory = saved
    with pytest.raises(WeightsError) as excinfo:
        Tied.from_pretrained(directory)
    _check(excinfo.value, "config.json", f"{Tiny.__module__}:Tiny", f"{Tied.__module__}:Tied")


# --- load options -------------------------------------------------------------------------------------------------


def test_dtype_and_device_options(saved: tuple[Tiny, Path]) -> None:
    particle, directory = saved
    half = Tiny.from_pretrained(directory, dtype="float16", device="cpu")
    assert {t.dtype for t in half.state_dict().values()} == {torch.float16}
    assert {t.device.type for t in half.state_dict().values()} == {"cpu"}
    assert torch.equal(half.proj.weight, particle.proj.weight.half())
    bf16 = Tiny.from_pretrained(directory, dtype=torch.bfloat16, device=torch.device("cpu"))
    assert bf16.out.weight.dtype == torch.bfloat16
    for bad in ("int8", "float17"):
        with pytest.raises(ConfigError) as excinfo:
            Tiny.from_pretrained(directory, dtype=bad)
        _check(excinfo.value, bad)


def test_loading_builds_on_meta_without_random_init(saved: tuple[Tiny, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    _, directory = saved
    real_init: list[str] = []
    kaiming = torch.nn.init.kaiming_uniform_

    def spy(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        if not tensor.is_meta:
            real_init.append(str(tensor.shape))
        return kaiming(tensor, *args, **kwargs)

    monkeypatch.setattr(torch.nn.init, "kaiming_uniform_", spy)
    Tiny.constructed_on.clear()
    loaded = Tiny.from_pretrained(directory)
    assert Tiny.constructed_on == ["meta"]
    assert real_init == []  # no parameter was randomly initialised on a real device
    assert all(not t.is_meta for t in loaded.state_dict().values())


# --- integrity ----------------------------------------------------------------------------------------------------


def test_flipped_byte_is_a_hash_mismatch(saved: tuple[Tiny, Path]) -> None:
    _, directory = saved
    path = directory / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[len(data) - 20] ^= 0x01
    path.write_bytes(bytes(data))
    expected = json.loads((directory / "manifest.json").read_text())["files"]["model.safetensors"]["sha256"]
    actual = hashlib.sha256(bytes(data)).hexdigest()
    with pytest.raises(HashMismatchError) as excinfo:
        Tiny.from_pretrained(directory)
    _check(excinfo.value, str(path), expected[:16], actual[:16])


def test_edited_config_is_a_hash_mismatch(saved: tuple[Tiny, Path]) -> None:
    _, directory = saved
    payload = json.loads((directory / "config.json").read_text())
    payload["config"]["hidden"] = 9
    (directory / "config.json").write_text(json.dumps(payload))
    with pytest.raises(HashMismatchError) as excinfo:
        Tiny.from_pretrained(directory)
    _check(excinfo.value, "config.json")


def test_unlisted_weight_file_is_refused(saved: tuple[Tiny, Path]) -> None:
    _, directory = saved
    safetensors.torch.save_file({"extra": torch.zeros(2)}, directory / "extra.safetensors")
    with pytest.raises(HashMismatchError) as excinfo:
        Tiny.from_pretrained(directory)
    _check(excinfo.value, "extra.safetensors", "manifest.json")


def test_missing_paths_are_named(saved: tuple[Tiny, Path], tmp_path: Path) -> None:
    _, directory = saved
    with pytest.raises(MissingWeightsError) as excinfo:
        Tiny.from_pretrained(tmp_path / "nowhere")
    _check(excinfo.value, "nowhere")
    (directory / "manifest.json").unlink()
    with pytest.raises(MissingWeightsError) as excinfo:
        Tiny.from_pretrained(directory)
    _check(excinfo.value, "manifest.json")
    assert "verify=False" in (excinfo.value.hint or "")
    (directory / "model.safetensors").unlink()
    with pytest.raises(MissingWeightsError) as excinfo:
        Tiny.from_pretrained(directory, verify=False)
    _check(excinfo.value, "model.safetensors")
    (directory / "config.json").unlink()
    safetensors.torch.save_file({"x": torch.zeros(1)}, directory / "model.safetensors")
    with pytest.raises(MissingWeightsError) as excinfo:
        Tiny.from_pretrained(directory, verify=False)
    _check(excinfo.value, "config.json")


def test_truncated_file_is_corrupt(saved: tuple[Tiny, Path]) -> None:
    _, directory = saved
    path = directory / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    with pytest.raises(CorruptWeightsError) as excinfo:
        Tiny.from_pretrained(directory, verify=False)
    _check(excinfo.value, str(path), "truncated")
    with pytest.raises(HashMismatchError) as excinfo:
        Tiny.from_pretrained(directory)
    _check(excinfo.value, str(path), "size")
    for broken in (data[:5], data[:40], b"\xff" * 8 + data[8:]):
        path.write_bytes(broken)
        with pytest.raises(CorruptWeightsError) as excinfo:
            Tiny.from_pretrained(directory, verify=False)
        _check(excinfo.value, str(path))


def test_header_that_safetensors_rejects_is_corrupt(saved: tuple[Tiny, Path]) -> None:
    _, directory = saved
    path = directory / "model.safetensors"
    raw = path.read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + size])
    for name, entry in header.items():  # every tensor starts at offset 0: in bounds, but overlapping
        if name != "__metadata__":
            begin, end = entry["data_offsets"]
            entry["data_offsets"] = [0, end - begin]
    encoded = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + raw[8 + size :])
    with pytest.raises(CorruptWeightsError) as excinfo:
        Tiny.from_pretrained(directory, verify=False)
    _check(excinfo.value, str(path))


def test_wrong_shape_names_tensor_and_both_shapes(saved: tuple[Tiny, Path]) -> None:
    _, directory = saved
    _edit_config(directory, hidden=16)
    with pytest.raises(TensorMismatchError) as excinfo:
        Tiny.from_pretrained(directory)
    _check(
        excinfo.value,
        "'proj.weight' in model.safetensors has shape (8, 4), the model expects (16, 4)",
        "'proj.bias'",  # every problem at once
        "'out.weight' in model.safetensors has shape (4, 8), the model expects (4, 16)",
    )


def test_wrong_dtype_names_tensor_and_both_dtypes(saved: tuple[Tiny, Path]) -> None:
    _, directory = saved
    _rewrite_weights(directory, lambda t: t.update({"scale": t["scale"].half()}))
    with pytest.raises(TensorMismatchError) as excinfo:
        Tiny.from_pretrained(directory)
    _check(excinfo.value, str(directory), "'scale' in model.safetensors has dtype float16, the model expects float32")


@pytest.mark.parametrize("storage", ["float16", torch.bfloat16])
def test_half_width_storage_halves_the_bytes_and_loads_back_as_float32(tmp_path: Path, storage: Any) -> None:
    particle = _tiny(hidden=64)
    particle.save_pretrained(tmp_path / "full")
    particle.save_pretrained(tmp_path / "half", storage_dtype=storage)
    name = str(storage).removeprefix("torch.")
    assert read_config(tmp_path / "half")["storage_dtype"] == name
    assert "storage_dtype" not in read_config(tmp_path / "full")
    full, half = ((tmp_path / d / "model.safetensors").stat().st_size for d in ("full", "half"))
    assert half < 0.6 * full
    loaded = Tiny.from_pretrained(tmp_path / "half")
    for (key, original), (_, restored) in zip(particle.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert restored.dtype == torch.float32, key
        torch.testing.assert_close(restored, original.to(getattr(torch, name)).float(), rtol=0, atol=0)
    x = torch.randn(3, 4)
    torch.testing.assert_close(loaded(x=x)["y"], particle(x=x)["y"], rtol=2e-2, atol=2e-2)
    single = Tiny.from_pretrained(tmp_path / "half" / "model.safetensors")  # the sibling config.json says so too
    torch.testing.assert_close(single.proj.weight, loaded.proj.weight, rtol=0, atol=0)


def test_a_stored_dtype_other_than_the_declared_one_is_still_a_mismatch(tmp_path: Path) -> None:
    _tiny().save_pretrained(tmp_path / "half", storage_dtype="float16")
    _rewrite_weights(tmp_path / "half", lambda t: t.update({"scale": t["scale"].to(torch.bfloat16)}))
    with pytest.raises(TensorMismatchError) as excinfo:
        Tiny.from_pretrained(tmp_path / "half")
    _check(excinfo.value, "'scale' in model.safetensors has dtype bfloat16, the model expects float32")


def test_an_unknown_storage_dtype_names_the_config_file(saved: tuple[Tiny, Path]) -> None:
    _, directory = saved
    config = json.loads((directory / "config.json").read_text())
    (directory / "config.json").write_text(json.dumps({**config, "storage_dtype": "int8"}))
    _rehash(directory)
    with pytest.raises(CorruptWeightsError) as excinfo:
        Tiny.from_pretrained(directory)
    _check(excinfo.value, str(directory / "config.json"), "'storage_dtype' is 'int8'")
    for unloadable in ("int8", torch.float8_e4m3fn):  # save refuses what load would refuse
        with pytest.raises(ConfigError):
            _tiny().save_pretrained(directory.parent / "other", storage_dtype=unloadable)
    assert not (directory.parent / "other").exists()


def test_missing_and_unexpected_tensors(saved: tuple[Tiny, Path]) -> None:
    _, directory = saved

    def edit(tensors: dict[str, torch.Tensor]) -> None:
        del tensors["out.weight"]
        tensors["stray.weight"] = torch.zeros(3)

    _rewrite_weights(directory, edit)
    with pytest.raises(TensorMismatchError) as excinfo:
        Tiny.from_pretrained(directory)
    _check(excinfo.value, "'out.weight' (shape (4, 8), float32) is missing", "'stray.weight' in model.safetensors")


def test_invalid_config_value_is_a_config_error(saved: tuple[Tiny, Path]) -> None:
    _, directory = saved
    _edit_config(directory, hidden=0)
    with pytest.raises(ConfigError) as excinfo:
        Tiny.from_pretrained(directory)
    _check(excinfo.value, "config.json", "'hidden'")


def test_malformed_config_json_is_named(saved: tuple[Tiny, Path]) -> None:
    _, directory = saved
    (directory / "config.json").write_text("{not json")
    _rehash(directory)
    with pytest.raises(CorruptWeightsError) as excinfo:
        Tiny.from_pretrained(directory)
    _check(excinfo.value, "config.json")


# --- no pickle ----------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("no_unpickling")
@pytest.mark.parametrize("name", ["model.bin", "model.pt", "model.pkl", "weights.ckpt"])
def test_pickle_directory_is_refused(tmp_path: Path, name: str) -> None:
    directory = tmp_path / "pickled"
    directory.mkdir()
    (directory / name).write_bytes(pickle.dumps({"proj.weight": [[0.0] * 4] * 8}))
    with pytest.raises(UnsafeWeightsError) as excinfo:
        Tiny.from_pretrained(directory)
    _check(excinfo.value, name, "only safetensors")
    assert "save_file" in (excinfo.value.hint or "")


def test_torch_save_file_is_refused(saved: tuple[Tiny, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    particle, directory = saved
    (directory / "model.safetensors").unlink()
    torch.save(particle.state_dict(), directory / "pytorch_model.bin")
    torch.save(particle.state_dict(), tmp_path / "model.pt")
    monkeypatch.setattr(torch, "load", pytest.fail)
    for path in (directory, tmp_path / "model.pt", directory / "pytorch_model.bin"):
        with pytest.raises(UnsafeWeightsError) as excinfo:
            Tiny.from_pretrained(path)
        _check(excinfo.value, "pytorch_model.bin" if path == directory else path.name)


@pytest.mark.usefixtures("no_unpickling")
def test_pickle_disguised_as_safetensors_is_refused(saved: tuple[Tiny, Path]) -> None:
    particle, directory = saved
    path = directory / "model.safetensors"
    torch.save(particle.state_dict(), path)  # a zip archive under a safetensors name
    with pytest.raises(UnsafeWeightsError) as excinfo:
        Tiny.from_pretrained(path)
    _check(excinfo.value, str(path))
    path.write_bytes(pickle.dumps({"proj.weight": 1}, protocol=4))
    with pytest.raises(UnsafeWeightsError) as excinfo:
        Tiny.from_pretrained(directory, verify=False)
    _check(excinfo.value, str(path))


# --- atomic saves -------------------------------------------------------------------------------------------------


def test_save_replaces_a_previous_save(saved: tuple[Tiny, Path]) -> None:
    _, directory = saved
    newer = _tiny(seed=1)
    newer.save_pretrained(directory)
    assert torch.equal(Tiny.from_pretrained(directory).proj.weight, newer.proj.weight)
    assert [p.name for p in directory.parent.iterdir()] == ["tiny"]


def test_failed_save_leaves_previous_save_intact(saved: tuple[Tiny, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    particle, directory = saved
    before = {p.name: p.read_bytes() for p in directory.iterdir()}

    def broken_save(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save_file", broken_save)
    with pytest.raises(OSError, match="disk full"):
        _tiny(seed=1).save_pretrained(directory)
    assert {p.name: p.read_bytes() for p in directory.iterdir()} == before
    assert [p.name for p in directory.parent.iterdir()] == ["tiny"]  # no staging directory left behind
    assert torch.equal(Tiny.from_pretrained(directory).proj.weight, particle.proj.weight)


def test_save_refuses_to_replace_foreign_directory(tmp_path: Path) -> None:
    directory = tmp_path / "mine"
    directory.mkdir()
    (directory / "notes.txt").write_text("keep me")
    with pytest.raises(WeightsError) as excinfo:
        _tiny().save_pretrained(directory)
    _check(excinfo.value, str(directory), "notes.txt")
    assert (directory / "notes.txt").read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]


def test_reading_configs_and_hashes_needs_no_torch(saved: tuple[Tiny, Path]) -> None:
    _, directory = saved
    code = (
        "import sys; from sora_core.weights import read_config, verify_directory; "
        f"verify_directory({str(directory)!r}); print(read_config({str(directory)!r})['kind']); "
        "assert 'torch' not in sys.modules"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "video_generator"
