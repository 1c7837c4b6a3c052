"""Reading diffusers model folders as data: the index, each component's config and files (no torch here).

A folder is a diffusers pipeline folder (``model_index.json`` and one subfolder per component), one of its
component folders, or a Hugging Face cache entry: ``models--ORG--NAME`` (its ``refs/main`` names the
snapshot) or ``models--ORG--NAME/snapshots/REVISION``, whose files are links into the entry's ``blobs/``.
Links may lead anywhere inside the model's own root (the cache entry, else the folder itself), never out
of it; special files and pickle-format files (``.bin``, ``.pt``, ``.ckpt``, anything that sniffs as a
pickle) are refused before anything is read. Every failure is a ``SoraError`` naming the file or
subfolder and what would fix it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sora_core.errors import MissingWeightsError, SpecError, UnsafeWeightsError, WeightsError
from sora_core.safe_json import load_json_bytes
from sora_core.safetensors_io import sniff_pickle

MODEL_INDEX = "model_index.json"
CONFIG = "config.json"
SCHEDULER_CONFIG = "scheduler_config.json"
#: Weight files of a diffusers model and of a transformers model, single or sharded (with an index).
WEIGHT_STEMS = ("diffusion_pytorch_model", "model")
PICKLE_SUFFIXES = frozenset({".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".msgpack", ".h5", ".npz"})
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "spiece.model",
    "vocab.json",
    "merges.txt",
)
MAX_JSON_BYTES = 16 * 2**20
_SNAPSHOT_REF = re.compile(r"^[0-9A-Za-z._-]{1,200}$")


@dataclass(frozen=True)
class ModelFolder:
    """A model folder and the root its links may lead into (the cache entry for a snapshot)."""

    path: Path
    link_root: Path

    def component(self, name: str) -> Path:
        return self.path / name


def locate(path: str | os.PathLike[str]) -> ModelFolder:
    """The model folder at ``path``: a plain folder, a cache snapshot, or a cache entry (through ``refs/main``)."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise MissingWeightsError(f"{folder} is not a folder", "pass a diffusers model folder or a cache snapshot")
    if folder.name.startswith("models--") and (folder / "snapshots").is_dir():
        return ModelFolder(_snapshot_of_entry(folder), folder.resolve())
    entry = _cache_entry_above(folder)
    return ModelFolder(folder, entry if entry is not None else folder.resolve())


def _snapshot_of_entry(entry: Path) -> Path:
    ref = entry / "refs" / "main"
    if ref.is_file():
        revision = ref.read_text(encoding="utf-8", errors="replace").strip()
        if _SNAPSHOT_REF.match(revision) and revision.strip(".") and (entry / "snapshots" / revision).is_dir():
            return entry / "snapshots" / revision
    snapshots = sorted(p for p in (entry / "snapshots").iterdir() if p.is_dir())
    if len(snapshots) == 1:
        return snapshots[0]
    raise MissingWeightsError(
        f"{entry} is a Hugging Face cache entry with {len(snapshots)} snapshots and no usable refs/main",
        "pass the snapshot folder itself: " + str(entry / "snapshots" / "REVISION"),
    )


def _cache_entry_above(folder: Path) -> Path | None:
    """The cache entry (``models--*``) a snapshot folder or one of its subfolders lies in, if any."""
    resolved = folder.absolute()
    for parent in (resolved, *resolved.parents):
        if parent.parent.name == "snapshots" and parent.parent.parent.name.startswith("models--"):
            return parent.parent.parent.resolve()
    return None


def read_json_file(path: Path, what: str, error: type[Exception] = SpecError) -> Any:
    """A JSON data file (16 MiB, 64 levels at most), its failures ``error`` naming ``path``."""
    if not path.is_file():
        raise MissingWeightsError(f"{path} does not exist", f"{what} needs it: re-download the model folder")
    if path.stat().st_size > MAX_JSON_BYTES:
        raise WeightsError(f"{path} is larger than {MAX_JSON_BYTES} bytes", f"{what} is a small JSON file")
    return load_json_bytes(path.read_bytes(), str(path), error=error, hint=f"{what}: re-download the model folder")


def read_model_index(folder: ModelFolder) -> dict[str, Any]:
    """``model_index.json`` as ``{"_class_name": ..., component: [library, class], ...}``, its shape checked."""
    path = folder.path / MODEL_INDEX
    if not path.is_file():
        raise SpecError(
            f"{folder.path} has no {MODEL_INDEX}, so it is not a diffusers pipeline folder",
            "pass the folder diffusers' save_pretrained wrote (or its Hugging Face cache snapshot)",
        )
    check_entry(path, folder)
    index = read_json_file(path, "the pipeline's index")
    if not isinstance(index, dict) or not isinstance(index.get("_class_name"), str):
        raise SpecError(f"{path} is not a diffusers model index: it needs '_class_name'", "re-download the folder")
    return index


def check_entry(path: Path, folder: ModelFolder) -> None:
    """Refuse a link out of the model's root, a special file, or a pickle-format file."""
    target = path.resolve()  # a link anywhere on the path (a linked snapshot or subfolder), not only the entry's own
    if not target.is_relative_to(folder.link_root):
        how = "a symbolic link to" if path.is_symlink() else "reached through a symbolic link: it is"
        raise UnsafeWeightsError(
            f"{path} is {how} {target}, outside the model folder {folder.link_root}",
            "copy the file into the folder (a model folder is read as data from that folder alone)",
        )
    if path.exists() and not (path.is_file() or path.is_dir()):
        raise UnsafeWeightsError(f"{path} is not a regular file", "replace it with the file it should be")
    if path.is_file() and (path.suffix in PICKLE_SUFFIXES or (path.suffix != ".safetensors" and sniff_pickle(path))):
        raise UnsafeWeightsError(
            f"{path} is a pickle-format file; sora never loads pickles",
            "delete it and use the folder's .safetensors weights (diffusers: save_pretrained(safe_serialization=True))",
        )


def check_component(directory: Path, folder: ModelFolder) -> None:
    """Check every entry of a component folder (links, special files, pickles) before anything is read."""
    if not directory.is_dir():
        raise MissingWeightsError(
            f"{directory} does not exist",
            f"the model folder lacks its {directory.name}/ subfolder: re-download it, or pass a complete folder",
        )
    check_entry(directory, folder)  # the subfolder itself may be a link out of the model
    for entry in sorted(directory.iterdir()):
        check_entry(entry, folder)


def weight_files(directory: Path) -> list[Path]:
    """The safetensors files of a component: one file, or the shards its ``*.safetensors.index.json`` lists."""
    for stem in WEIGHT_STEMS:
        index = directory / f"{stem}.safetensors.index.json"
        if index.is_file():
            return _shards(index, directory)
        single = directory / f"{stem}.safetensors"
        if single.is_file():
            return [single]
    pickles = sorted(p.name for p in directory.iterdir() if p.suffix in PICKLE_SUFFIXES)
    raise MissingWeightsError(
        f"{directory} has no safetensors weights"
        + (f" (only pickle-format {', '.join(pickles)}, which sora never loads)" if pickles else ""),
        "save the model with safe_serialization=True, or download its .safetensors files",
    )


def _shards(index: Path, directory: Path) -> list[Path]:
    data = read_json_file(index, "the sharded weights' index", error=WeightsError)
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise WeightsError(f"{index} has no 'weight_map' object", "re-download the folder")
    names = sorted({str(v) for v in weight_map.values()})
    shards = []
    for name in names:
        if "/" in name or "\\" in name or name in {".", ".."} or not name.endswith(".safetensors"):
            raise UnsafeWeightsError(f"{index} names shard {name!r}, not a .safetensors file in the folder", "")
        shard = directory / name
        if not shard.is_file():
            raise MissingWeightsError(f"{index} lists {name}, which is missing", "re-download the missing shard")
        shards.append(shard)
    return shards


def component_config(directory: Path, folder: ModelFolder, classes: tuple[str, ...], key: str) -> dict[str, Any]:
    """``config.json`` (or ``scheduler_config.json``) of a component whose class (``key``: ``_class_name`` for
    diffusers, ``architectures`` for transformers) is one of ``classes``; anything else names the subfolder."""
    check_component(directory, folder)
    name = (
        SCHEDULER_CONFIG if (directory / SCHEDULER_CONFIG).is_file() and not (directory / CONFIG).is_file() else CONFIG
    )
    config = read_json_file(directory / name, f"the {directory.name} component")
    if not isinstance(config, dict):
        raise SpecError(f"{directory / name} is not a JSON object", "re-download the folder")
    found = config.get(key)
    found_names = found if isinstance(found, list) else [found]
    if not any(isinstance(n, str) and n in classes for n in found_names):
        raise SpecError(
            f"{directory / name} describes a {found!r}, but this particle reads {' or '.join(classes)}",
            f"point it at a {classes[0]} folder, or use the particle made for {found!r} (`sora list sora-diffusers`)",
        )
    return config


def is_diffusers_component(directory: str | os.PathLike[str]) -> bool:
    """Whether ``directory`` holds a diffusers/transformers component (not a folder sora's save_pretrained wrote)."""
    path = Path(directory)
    for name in (CONFIG, SCHEDULER_CONFIG):
        file = path / name
        if file.is_file() and file.stat().st_size <= MAX_JSON_BYTES:
            try:
                data = load_json_bytes(file.read_bytes(), str(file), error=SpecError)
            except SpecError:
                return False
            return isinstance(data, dict) and "particle" not in data
    return any((path / n).is_file() for n in TOKENIZER_FILES)


def relative_files(directory: Path, files: list[Path]) -> list[str]:
    return [str(p.relative_to(directory)) for p in files]
