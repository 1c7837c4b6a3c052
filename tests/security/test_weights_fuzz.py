"""Property tests: the safetensors header reader and the weights folder's JSON readers take any bytes.

Whatever the bytes, reading either succeeds or raises a ``WeightsError`` naming the file; never another
exception. The example budget is the ``ci`` profile's (see the root ``conftest.py``).
"""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import safetensors.torch
import torch
from hypothesis import given
from hypothesis import strategies as st

from sora_core.errors import WeightsError
from sora_core.safetensors_io import read_config, read_header_from, read_manifest

NAME = Path("fuzzed.safetensors")


def _valid_file() -> bytes:
    tensors = {"weight": torch.arange(12, dtype=torch.float32).reshape(3, 4), "bias": torch.ones(3, dtype=torch.int64)}
    return safetensors.torch.save(tensors, metadata={"format": "pt"})


VALID = _valid_file()


def _read(data: bytes) -> None:
    try:
        header = read_header_from(io.BytesIO(data), len(data), NAME)
    except WeightsError as exc:
        assert str(NAME) in exc.message
        return
    assert all(isinstance(name, str) for name in header.tensors)


@given(st.binary(max_size=512))
def test_any_bytes(data: bytes) -> None:
    _read(data)


@given(st.data())
def test_mutated_valid_file(data: st.DataObject) -> None:
    raw = bytearray(VALID)
    for _ in range(data.draw(st.integers(1, 6))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    _read(bytes(raw[:cut]) + data.draw(st.binary(max_size=16)))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
ENTRY = st.fixed_dictionaries(
    {"dtype": st.sampled_from(["F32", "F16", "I64", "BOOL", "X"]) | JSON, "shape": JSON, "data_offsets": JSON}
)


@given(st.dictionaries(st.text(max_size=6), ENTRY | JSON, max_size=4), st.integers(0, 64))
def test_any_header_json(header: dict[str, object], data_size: int) -> None:
    raw = json.dumps(header).encode()
    _read(struct.pack("<Q", len(raw)) + raw + bytes(data_size))


@given(JSON, st.lists(st.integers(0, 4), max_size=3))
def test_any_dtype_value(dtype: object, shape: list[int]) -> None:
    size = 4
    for n in shape:
        size *= n
    raw = json.dumps({"t": {"dtype": dtype, "shape": shape, "data_offsets": [0, size]}}).encode()
    _read(struct.pack("<Q", len(raw)) + raw + bytes(size))


@given(JSON)
def test_config_json_of_any_shape(tmp_path_factory, document: object) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("config")
    (folder / "config.json").write_text(json.dumps(document))
    try:
        read_config(folder)
    except WeightsError as exc:
        assert "config.json" in exc.message


@given(JSON | st.fixed_dictionaries({"format": JSON, "files": st.dictionaries(st.text(max_size=8), JSON)}))
def test_manifest_json_of_any_shape(tmp_path_factory, document: object) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("manifest") / "manifest.json"
    path.write_text(json.dumps(document))
    try:
        read_manifest(path)
    except WeightsError as exc:
        assert "manifest.json" in exc.message
