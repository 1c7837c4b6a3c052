"""The torch-free side of the pretrained-directory format (see :mod:`sora_core.weights`).

File names, ``config.json``, the sha256 manifest, atomic directory replacement, and safetensors headers:
parsed and checked against the file's length before any tensor is read, so a truncated, foreign or
pickled file fails fast with an error that names it. Tools verify and inspect weights without torch.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import struct
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

from sora_core.errors import (
    ConfigError,
    CorruptWeightsError,
    HashMismatchError,
    MissingWeightsError,
    UnsafeWeightsError,
    WeightsError,
)
from sora_core.safe_json import load_json_bytes

FORMAT = 1
CONFIG_NAME = "config.json"
MANIFEST_NAME = "manifest.json"
WEIGHTS_NAME = "model.safetensors"
INDEX_NAME = "model.safetensors.index.json"
#: safetensors ``__metadata__`` key recording tied tensors stored once: ``{alias: stored name}`` as JSON.
ALIASES_KEY = "sora.aliases"
#: ``config.json`` key holding the particle's registry name (``dist:name``), how loading finds its class.
NAME_KEY = "name"
#: ``config.json`` key naming the dtype floating tensors were stored in, when narrower than the particle's own.
STORAGE_DTYPE_KEY = "storage_dtype"
STORAGE_DTYPES = ("float16", "bfloat16", "float32", "float64")
_SHARD_NAME = re.compile(r"model-\d{5}-of-\d{5}\.safetensors")
#: The JSON files of a weights folder (the shard index too) are small; a bigger one is foreign or hostile.
MAX_JSON_SIZE = 16 * 2**20
_FOLDER_FILES = frozenset({CONFIG_NAME, MANIFEST_NAME, INDEX_NAME})

#: Suffixes of pickle-based formats (``torch.save``, ``pickle``, Lightning checkpoints): never loaded.
UNSAFE_SUFFIXES: frozenset[str] = frozenset({".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle"})
#: safetensors itself refuses headers above 100 MB; a larger length means a corrupt or foreign file.
MAX_HEADER_SIZE = 100_000_000

#: safetensors dtype codes, by the torch dtype name used in messages, and their width in bits.
DTYPES: dict[str, tuple[str, int]] = {
    "F64": ("float64", 64),
    "F32": ("float32", 32),
    "F16": ("float16", 16),
    "BF16": ("bfloat16", 16),
    "I64": ("int64", 64),
    "I32": ("int32", 32),
    "I16": ("int16", 16),
    "I8": ("int8", 8),
    "U64": ("uint64", 64),
    "U32": ("uint32", 32),
    "U16": ("uint16", 16),
    "U8": ("uint8", 8),
    "BOOL": ("bool", 8),
    "F8_E4M3": ("float8_e4m3fn", 8),
    "F8_E4M3FNUZ": ("float8_e4m3fnuz", 8),
    "F8_E5M2": ("float8_e5m2", 8),
    "F8_E5M2FNUZ": ("float8_e5m2fnuz", 8),
    "C64": ("complex64", 64),
}

_SIZE_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_SIZE_UNITS.update({"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40})
#: The fix for a damaged or edited pretrained directory.
RESAVE_HINT = "re-download the directory, or re-save the particle with save_pretrained"
_CORRUPT_HINT = "the file is damaged or incomplete: re-download it, or re-save the particle with save_pretrained"
_CONVERT_HINT = (
    "convert it once, in an environment you trust: load the state dict there and write it with "
    "`safetensors.torch.save_file(state_dict, 'model.safetensors')`, or load it into the particle and call "
    "`particle.save_pretrained(DIR)`"
)


@dataclass(frozen=True)
class TensorInfo:
    """One tensor as a safetensors header declares it (``dtype`` is a torch name, e.g. ``float32``)."""

    dtype: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class SafetensorsHeader:
    """The checked header of one safetensors file."""

    path: Path
    tensors: dict[str, TensorInfo]
    metadata: dict[str, str]


def read_header(path: Path) -> SafetensorsHeader:
    """Parse and check ``path``'s header; raise ``CorruptWeightsError`` (or ``UnsafeWeightsError`` for pickles)."""
    with path.open("rb") as file:
        return read_header_from(file, path.stat().st_size, path)


def read_header_from(file: BinaryIO, size: int, path: Path) -> SafetensorsHeader:
    """:func:`read_header` on an open binary file of ``size`` bytes (a wheel member, say) named ``path``."""
    prefix = file.read(8)
    if len(prefix) < 8:
        raise _not_safetensors(path, prefix, f"is {size} bytes long, shorter than a safetensors header")
    (header_size,) = struct.unpack("<Q", prefix)
    if header_size > min(size - 8, MAX_HEADER_SIZE):
        raise _not_safetensors(path, prefix, f"declares a {header_size}-byte header but the file has {size} bytes")
    raw = file.read(header_size)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _not_safetensors(path, prefix, "has an unreadable header") from None
    except RecursionError:
        raise _corrupt(path, "has a header nested too deeply") from None
    if not isinstance(header, dict):
        raise _corrupt(path, "has a header that is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise _corrupt(path, "has invalid __metadata__ (it must map strings to strings)")
    data_size = size - 8 - header_size
    tensors = {name: _tensor_info(path, name, entry, data_size) for name, entry in header.items()}
    _check_layout(path, {name: tuple(entry["data_offsets"]) for name, entry in header.items()}, data_size)
    return SafetensorsHeader(path, tensors, metadata)


def _check_layout(path: Path, offsets: dict[str, tuple[int, int]], data_size: int) -> None:
    """Tensors must tile the data section exactly, as safetensors requires: no overlap, no gap, no trailing bytes.

    Overlapping tensors would let one file alias memory between two weights (a write through one changes the other).
    """
    position = 0
    for name, (begin, end) in sorted(offsets.items(), key=lambda item: item[1]):
        if begin < position:
            raise _corrupt(path, f"declares tensor {name!r} at data bytes {begin}..{end}, overlapping another tensor")
        if begin > position:
            raise _corrupt(path, f"leaves data bytes {position}..{begin} unused before tensor {name!r}")
        position = end
    if position != data_size:
        raise _corrupt(path, f"has {data_size - position} bytes after its last tensor's data")


def _tensor_info(path: Path, name: str, entry: Any, data_size: int) -> TensorInfo:
    try:
        code, shape, (begin, end) = entry["dtype"], tuple(entry["shape"]), entry["data_offsets"]
    except (TypeError, KeyError, ValueError):
        raise _corrupt(path, f"declares tensor {name!r} without a valid dtype, shape and data_offsets") from None
    if not isinstance(code, str):
        raise _corrupt(path, f"declares tensor {name!r} with dtype {code!r}, which is not a dtype name")
    if not all(type(n) is int and n >= 0 for n in (*shape, begin, end)) or begin > end:
        raise _corrupt(path, f"declares tensor {name!r} with invalid shape {shape} or offsets {[begin, end]}")
    if end > data_size:
        raise _corrupt(
            path, f"is truncated: tensor {name!r} needs data bytes {begin}..{end} but the file holds {data_size}"
        )
    dtype, bits = DTYPES.get(code, (str(code).lower(), 0))
    if bits and end - begin != math.prod(shape) * bits // 8:
        raise _corrupt(path, f"declares tensor {name!r} ({dtype}, shape {shape}) with {end - begin} bytes of data")
    return TensorInfo(dtype, shape)


def looks_like_pickle(prefix: bytes) -> bool:
    """Whether ``prefix`` starts a pickle (protocol 2 to 5) or a zip archive (what ``torch.save`` writes)."""
    return prefix.startswith(b"PK\x03\x04") or (len(prefix) >= 2 and prefix[0] == 0x80 and 2 <= prefix[1] <= 5)


def sniff_pickle(path: Path) -> bool:
    """Whether the file at ``path`` begins like a pickle or a ``torch.save`` zip."""
    with path.open("rb") as file:
        return looks_like_pickle(file.read(8))


def unsafe_error(path: Path, reason: str) -> UnsafeWeightsError:
    return UnsafeWeightsError(
        f"{path} {reason}: sora-core loads only safetensors weights and never unpickles files", _CONVERT_HINT
    )


def _not_safetensors(path: Path, prefix: bytes, reason: str) -> Exception:
    # Only a file that fails to parse as safetensors is sniffed: a valid header may begin with any bytes.
    if looks_like_pickle(prefix):
        return unsafe_error(path, "is a pickle or torch.save archive, not safetensors")
    return _corrupt(path, reason)


def _corrupt(path: Path, reason: str) -> CorruptWeightsError:
    return CorruptWeightsError(f"{path} is not valid safetensors: it {reason}", _CORRUPT_HINT)


def sha256_file(path: Path) -> str:
    """The hex sha256 of the file at ``path``, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def parse_size(value: int | str) -> int:
    """Bytes in ``value``: an int, or a string such as ``"500MB"``, ``"2GB"`` (powers of 10) or ``"1GiB"``."""
    number: float | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", value)
        if match and match.group(2).upper() in _SIZE_UNITS:
            number = float(match.group(1)) * _SIZE_UNITS[match.group(2).upper()]
    if number is None or number < 1:
        raise ConfigError(
            f"invalid max_shard_size {value!r}",
            "use a positive number of bytes or a string such as '500MB', '2GB' or '1GiB'",
        )
    return int(number)


def plain_file_name(name: str) -> bool:
    """Whether ``name`` names a file directly inside a directory (no separators, no ``..``)."""
    return bool(name) and name not in {".", ".."} and not any(sep in name for sep in ("/", "\\", os.sep))


# --- pretrained directories ----------------------------------------------------------------------------------------


def _is_save_file(path: Path) -> bool:
    names = {CONFIG_NAME, MANIFEST_NAME, WEIGHTS_NAME, INDEX_NAME}
    return path.is_file() and (path.name in names or bool(_SHARD_NAME.fullmatch(path.name)))


def _check_replaceable(target: Path) -> None:
    """Refuse to replace anything but a previous save: replacing deletes the old directory."""
    if not target.exists():
        return
    if not target.is_dir():
        raise WeightsError(f"cannot save to {target}: it exists and is not a directory", "choose another path")
    foreign = sorted(entry.name for entry in target.iterdir() if not _is_save_file(entry))
    if foreign:
        raise WeightsError(
            f"cannot save to {target}: it holds files save_pretrained did not write ({', '.join(foreign[:5])})",
            "save into a new or empty directory; save_pretrained replaces a previous save as a whole",
        )


@contextmanager
def atomic_directory(target: Path) -> Iterator[Path]:
    """Yield an empty staging directory that replaces ``target`` as a whole if the block succeeds.

    The staging directory is a sibling (same filesystem, so renames are atomic) made with the user's umask,
    unlike ``mkdtemp``. A failure anywhere leaves ``target`` as it was and removes the staging directory.
    """
    _check_replaceable(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.saving-{uuid.uuid4().hex[:12]}")
    staging.mkdir()
    try:
        yield staging
        _sync(staging)
        _move_into_place(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_manifest(directory: Path) -> None:
    """Write ``manifest.json``: the sha256 and size of every other file in ``directory``."""
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.name != MANIFEST_NAME)
    entries = {p.name: {"sha256": sha256_file(p), "size": p.stat().st_size} for p in files}
    write_json(directory / MANIFEST_NAME, {"format": FORMAT, "files": entries})


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _sync(directory: Path) -> None:
    # Flush the staged files so the rename can never publish data still sitting in the page cache.
    for path in directory.iterdir():
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _move_into_place(staging: Path, target: Path) -> None:
    if not target.exists():
        os.rename(staging, target)
        return
    old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:12]}")
    os.rename(target, old)
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(old, target)
        raise
    if old.is_symlink():  # the link is replaced; the directory it pointed to is not ours to delete
        old.unlink()
    else:
        shutil.rmtree(old, ignore_errors=True)


def read_config(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed ``config.json`` of a pretrained directory, its structure checked."""
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise MissingWeightsError(f"{path} does not exist", "a pretrained directory is written by save_pretrained")
    data = read_json(path)
    valid = (
        isinstance(data, dict)
        and isinstance(data.get("particle"), str)
        and ":" in data["particle"]
        and isinstance(data.get("kind"), str)
        and isinstance(data.get("config"), dict)
        and isinstance(data.get(NAME_KEY, ""), str)
    )
    if not valid:
        raise CorruptWeightsError(
            f"{path} is not a particle config: it needs 'particle' ('module:Class'), 'kind', 'config' and 'format' "
            "(and 'name', when present, is a string 'dist:name')",
            RESAVE_HINT,
        )
    if data.get("format") != FORMAT:
        raise WeightsError(
            f"{path} has format {data.get('format')!r}; this sora-core reads format {FORMAT}",
            "upgrade sora-core, or re-save the particle with this version",
        )
    if STORAGE_DTYPE_KEY in data and data[STORAGE_DTYPE_KEY] not in STORAGE_DTYPES:
        raise CorruptWeightsError(
            f"{path}: {STORAGE_DTYPE_KEY!r} is {data[STORAGE_DTYPE_KEY]!r}, not one of {', '.join(STORAGE_DTYPES)}",
            RESAVE_HINT,
        )
    return cast("dict[str, Any]", data)


def verify_directory(directory: str | os.PathLike[str]) -> None:
    """Check that ``manifest.json`` lists every config and weight file and that each file's size and sha256 match."""
    path = Path(directory)
    if not path.is_dir():
        raise MissingWeightsError(f"{path} is not a directory", "pass a directory written by save_pretrained")
    manifest = path / MANIFEST_NAME
    if not manifest.is_file():
        raise MissingWeightsError(
            f"{manifest} does not exist, so the files in {path} cannot be verified",
            "re-save with save_pretrained (it writes the manifest), or pass verify=False if you trust the files",
        )
    check_directory_files(path)
    files = read_manifest(manifest)
    unlisted = sorted(p.name for p in path.iterdir() if is_weights_dir_file(p) and p.name not in files)
    if unlisted:
        raise HashMismatchError(
            f"{path / unlisted[0]} is not listed in {manifest}, so its hash cannot be checked",
            f"remove the file or {RESAVE_HINT}",
        )
    for name, entry in files.items():
        _verify_file(path / name, entry, manifest)


def is_weights_dir_file(path: Path) -> bool:
    """Whether ``path`` is a file that a weights directory's manifest must list (weights, config, index)."""
    return path.is_file() and (path.suffix == ".safetensors" or path.name in {CONFIG_NAME, INDEX_NAME})


def read_manifest(path: Path) -> dict[str, dict[str, Any]]:
    """A weights ``manifest.json`` as ``{file name: {"sha256", "size"}}``; invalid ones raise a weights error."""
    try:
        return parse_weights_manifest(read_json(path))
    except ValueError:
        raise CorruptWeightsError(f"{path} is not a valid manifest", RESAVE_HINT) from None


def parse_weights_manifest(data: Any) -> dict[str, dict[str, Any]]:
    """Validate a weights manifest's JSON; raise ``ValueError`` when it is not one."""
    files = data.get("files") if isinstance(data, dict) else None
    valid = (
        isinstance(files, dict)
        and data.get("format") == FORMAT
        and all(
            plain_file_name(name)
            and isinstance(entry, dict)
            and isinstance(entry.get("sha256"), str)
            and isinstance(entry.get("size"), int)
            for name, entry in files.items()
        )
    )
    if not valid:
        raise ValueError("not a weights manifest")
    return cast("dict[str, dict[str, Any]]", files)


def _verify_file(path: Path, entry: dict[str, Any], manifest: Path) -> None:
    if not path.is_file():
        raise MissingWeightsError(f"{path} is listed in {manifest} but does not exist", RESAVE_HINT)
    expected, actual = entry["sha256"], sha256_file(path)
    if actual != expected:
        size = path.stat().st_size
        sizes = f" (size {size} bytes, recorded {entry['size']})" if size != entry["size"] else ""
        raise HashMismatchError(
            f"{path}: sha256 {actual[:16]}... does not match {expected[:16]}... recorded in {manifest}{sizes}",
            f"the file changed after it was saved: {RESAVE_HINT}; pass verify=False only if you trust it",
        )


def read_json(path: Path) -> Any:
    """A weights folder's JSON file (config, manifest, shard index), parsed with bounded size and nesting."""
    check_regular_file(path)
    size = path.stat().st_size
    if size > MAX_JSON_SIZE:
        raise CorruptWeightsError(
            f"{path} is {size} bytes, over the {MAX_JSON_SIZE}-byte limit for a weights folder's JSON files",
            RESAVE_HINT,
        )
    return load_json_bytes(path.read_bytes(), str(path), error=CorruptWeightsError, hint=RESAVE_HINT)


def refuse_pickles(directory: Path) -> None:
    """Refuse a folder holding any pickle-format file, even beside safetensors weights, before anything is read.

    Such a file is never loaded; refusing the folder (rather than skipping the file) means a folder that looks
    like it carries pickled weights is never taken for a clean one.
    """
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        if path.suffix in {".safetensors", ".json"}:
            continue  # parsed as what they claim to be; a pickle there fails that parse by name
        if path.suffix in UNSAFE_SUFFIXES or sniff_pickle(path):
            raise unsafe_error(path, "is a pickle-based file (torch.save, pickle) in a weights folder")


def check_directory_files(directory: Path) -> None:
    """Refuse links that lead out of ``directory`` and special files (FIFOs, devices) among its weight files.

    A weights folder is loaded as data from that folder alone: a symbolic link whose target lies outside it
    (another user's file, ``/dev/zero``, a FIFO that blocks) is an ``UnsafeWeightsError`` naming link and target.
    """
    root = directory.resolve()
    for path in sorted(directory.iterdir()):
        if path.is_symlink():
            target = path.resolve()
            if not target.is_relative_to(root):
                raise UnsafeWeightsError(
                    f"{path} is a symbolic link to {target}, outside the weights folder {directory}",
                    "copy the file into the folder (a weights folder is read as data from that folder alone)",
                )
        if path.name in _FOLDER_FILES or path.suffix == ".safetensors":
            check_regular_file(path)


def check_regular_file(path: Path) -> None:
    """Refuse a path that exists but is not a regular file (a FIFO, a device, a directory)."""
    if path.exists() and not path.is_file():
        raise UnsafeWeightsError(
            f"{path} is not a regular file", "a weights folder holds regular files only: replace it with the file"
        )


def weight_headers(directory: Path) -> list[SafetensorsHeader]:
    index = directory / INDEX_NAME
    if not index.is_file():
        single = directory / WEIGHTS_NAME
        if not single.is_file():
            raise MissingWeightsError(
                f"{single} does not exist (nor does a sharded {INDEX_NAME})",
                "save the particle with save_pretrained, or pass the path of a .safetensors file directly",
            )
        return [read_header(single)]
    data = read_json(index)
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict) or not all(
        isinstance(f, str) and plain_file_name(f) for f in weight_map.values()
    ):
        raise CorruptWeightsError(f"{index} has no valid weight_map", RESAVE_HINT)
    headers = []
    for name in sorted(set(weight_map.values())):
        if not (directory / name).is_file():
            raise MissingWeightsError(f"{directory / name} is listed in {index} but does not exist", RESAVE_HINT)
        headers.append(read_header(directory / name))
    by_path = {h.path.name: h for h in headers}
    for tensor, name in weight_map.items():
        if tensor not in by_path[name].tensors:
            raise CorruptWeightsError(f"{index} maps tensor {tensor!r} to {name}, which lacks it", RESAVE_HINT)
    return headers


def stored_tensors(headers: list[SafetensorsHeader]) -> tuple[dict[str, tuple[Path, TensorInfo]], dict[str, str]]:
    """Every stored tensor with the file that holds it, and the tied names recorded as ``{alias: stored name}``."""
    stored: dict[str, tuple[Path, TensorInfo]] = {}
    aliases: dict[str, str] = {}
    for header in headers:
        for name, info in header.tensors.items():
            if name in stored:
                raise CorruptWeightsError(
                    f"tensor {name!r} is stored in both {stored[name][0]} and {header.path}", RESAVE_HINT
                )
            stored[name] = (header.path, info)
        aliases.update(_read_aliases(header))
    broken = sorted(alias for alias, name in aliases.items() if name not in stored)
    if broken:
        raise CorruptWeightsError(
            f"tied tensor {broken[0]!r} refers to {aliases[broken[0]]!r}, which no weight file stores", RESAVE_HINT
        )
    return stored, aliases


def _read_aliases(header: SafetensorsHeader) -> dict[str, str]:
    try:
        aliases = json.loads(header.metadata.get(ALIASES_KEY, "{}"))
    except json.JSONDecodeError:
        aliases = None
    if not isinstance(aliases, dict) or not all(isinstance(v, str) for v in aliases.values()):
        raise CorruptWeightsError(f"{header.path} has invalid {ALIASES_KEY} metadata", RESAVE_HINT)
    return aliases
