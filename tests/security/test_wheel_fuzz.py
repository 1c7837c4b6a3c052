"""Property tests (issue 22): wheel inspection and manifest parsing answer only with the project's errors.

(a) Random bytes, and mutations of a valid wheel (truncated, bytes flipped, data prepended or appended, a
header field changed, a compression method swapped): ``inspect_wheel`` returns (maybe with problems) or
raises ``PackageError``. (b) Random JSON in every field of a valid manifest, port spec and kind: only
``SoraError`` subclasses or success. The root conftest's ``ci`` profile fixes the example budget.
"""

from __future__ import annotations

import copy
import json
import shutil
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sora_core.errors import KindError, ManifestError, PackageError, PortError, SoraError
from sora_core.hostile_archives import entries_of, raw_zip, wheel_members
from sora_core.kinds import KindSpec
from sora_core.manifest import parse_manifest, particle_info
from sora_core.ports import PortSpec
from sora_core.synthetic import write_wheel
from sora_core.wheels import inspect_wheel

_DIRECTORY = Path(tempfile.mkdtemp(prefix="sora-wheel-fuzz-"))
_MEMBERS = wheel_members(write_wheel(_DIRECTORY / "valid", "demo", ["enc"]))
VALID = raw_zip(entries_of(_MEMBERS))
MANIFEST = json.loads(_MEMBERS["demo/sora_manifest.json"])
NAME = "demo-1.0.0-py3-none-any.whl"


@pytest.fixture(scope="module", autouse=True)
def _remove_scratch() -> Iterator[None]:
    yield
    shutil.rmtree(_DIRECTORY, ignore_errors=True)


def _inspect(data: bytes) -> None:
    with tempfile.TemporaryDirectory(dir=_DIRECTORY) as directory:
        path = Path(directory) / NAME
        path.write_bytes(data)
        try:
            inspect_wheel(path)
        except PackageError as exc:
            assert exc.message and exc.hint is not None


def test_the_unmutated_wheel_is_clean() -> None:
    with tempfile.TemporaryDirectory(dir=_DIRECTORY) as directory:
        path = Path(directory) / NAME
        path.write_bytes(VALID)
        assert inspect_wheel(path).problems == []


@given(st.binary(max_size=4096))
def test_random_bytes_are_refused_cleanly(data: bytes) -> None:
    _inspect(data)


@given(st.binary(max_size=2048))
def test_random_bytes_behind_a_zip_signature_are_refused_cleanly(data: bytes) -> None:
    _inspect(b"PK\x03\x04" + data)


def _header_offsets(data: bytes) -> list[int]:
    offsets, at = [], data.find(b"PK")
    while at >= 0:
        if data[at : at + 4] in (b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06"):
            offsets.append(at)
        at = data.find(b"PK", at + 1)
    return offsets


HEADERS = _header_offsets(VALID)


@st.composite
def mutations(draw: st.DrawFn) -> bytes:
    data = bytearray(VALID)
    kind = draw(st.sampled_from(["truncate", "flip", "prepend", "append", "field", "method", "splice"]))
    if kind == "truncate":
        return bytes(data[: draw(st.integers(0, len(data) - 1))])
    if kind == "flip":
        for _ in range(draw(st.integers(1, 8))):
            at = draw(st.integers(0, len(data) - 1))
            data[at] ^= draw(st.integers(1, 255))
        return bytes(data)
    if kind == "prepend":
        return draw(st.binary(min_size=1, max_size=256)) + bytes(data)
    if kind == "append":
        return bytes(data) + draw(st.binary(min_size=1, max_size=256))
    if kind == "splice":
        at = draw(st.integers(0, len(data)))
        return bytes(data[:at]) + draw(st.binary(min_size=1, max_size=64)) + bytes(data[at:])
    header = draw(st.sampled_from(HEADERS))
    if kind == "method":  # the method field sits at +8 in local headers and +10 in central entries
        at = header + (8 if data[header + 2] == 3 else 10)
        struct.pack_into("<H", data, at, draw(st.sampled_from([0, 1, 6, 8, 9, 12, 14, 93, 95, 98, 99, 0xFFFF])))
        return bytes(data)
    at = header + draw(st.integers(4, 40))
    width = draw(st.sampled_from([1, 2, 4]))
    if at + width <= len(data):
        data[at : at + width] = draw(st.binary(min_size=width, max_size=width))
    return bytes(data)


@given(mutations())
def test_mutated_wheels_are_read_or_refused_cleanly(data: bytes) -> None:
    _inspect(data)


# --- (b) manifests, port specs, kinds ---------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
FIELDS = [
    ("format",),
    ("distribution",),
    ("particles",),
    ("kinds",),
    ("spaces",),
    ("templates",),
    *[
        ("particles", "enc", key)
        for key in (
            "entry_point",
            "kind",
            "description",
            "inputs",
            "outputs",
            "config_schema",
            "default_config",
            "default_weights",
            "pretrained_on_create",
            "source",
        )
    ],
    ("particles", "enc", "inputs", "condition"),
    ("particles", "enc", "config_schema", "properties"),
    ("particles", "enc", "config_schema", "properties", "size"),
    *[("particles", "enc", "inputs", "condition", key) for key in ("dtype", "shape", "space", "optional")],
]


def _set(data: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(data)
    node = changed
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(node, dict) else node
    if isinstance(node, dict):
        node[path[-1]] = value
    return changed


def _parse(data: Any) -> None:
    try:
        manifest = parse_manifest(data, Path("demo/sora_manifest.json"))
        for name in manifest.particles:
            particle_info(manifest, name, "demo", "1.0.0", "")
    except ManifestError as exc:
        assert exc.message and exc.hint


@given(st.sampled_from(FIELDS), JSON)
def test_random_json_in_any_manifest_field_is_a_manifest_error_or_accepted(path: tuple[str, ...], value: Any) -> None:
    _parse(_set(MANIFEST, path, value))


@given(JSON)
def test_random_json_as_a_whole_manifest_is_a_manifest_error(value: Any) -> None:
    _parse(value)


@given(JSON)
def test_random_json_as_a_port_spec_is_a_port_error_or_a_spec(value: Any) -> None:
    try:
        spec = PortSpec.from_dict(value)
    except PortError as exc:
        assert exc.message
    else:
        assert PortSpec.from_dict(spec.to_dict()) == spec


@given(st.dictionaries(st.sampled_from(["dtype", "shape", "space", "optional", "description"]), JSON))
def test_random_port_fields_are_a_port_error_or_a_spec(value: dict[str, Any]) -> None:
    try:
        PortSpec.from_dict(value)
    except SoraError as exc:
        assert isinstance(exc, PortError)


@given(
    st.dictionaries(
        st.sampled_from(["name", "description", "inputs", "outputs", "inputs_one_of", "learned", "contributed_by"]),
        JSON,
    )
    | JSON
)
def test_random_kind_declarations_are_a_kind_error_or_a_kind(value: Any) -> None:
    try:
        kind = KindSpec.from_dict(value)
    except KindError as exc:
        assert exc.message and exc.hint
    else:
        assert KindSpec.from_dict(kind.to_dict()) == kind


@pytest.mark.parametrize("depth", [65, 1_000, 100_000])
def test_deep_manifest_text_in_a_wheel_is_a_problem(depth: int) -> None:
    members = {**_MEMBERS, "demo/sora_manifest.json": b"[" * depth + b"]" * depth}
    with tempfile.TemporaryDirectory(dir=_DIRECTORY) as directory:
        path = Path(directory) / NAME
        path.write_bytes(raw_zip(entries_of(members)))
        assert any("nests JSON" in p for p in inspect_wheel(path).problems)
