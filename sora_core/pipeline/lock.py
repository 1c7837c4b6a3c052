"""Lock files: pin what a pipeline is built from, and report every way it drifted since.

A lock (JSON, format 1) records the pipeline's name, sora-core's version, the wiring (edges, inputs,
outputs) with its sha256, and per node: the particle's full name, its distribution and version, its class,
its whole config with the sha256 of its canonical JSON, the weights source from the spec and the sha256 of
every weight file. ``sora lock`` writes one; ``sora run --locked`` refuses to run a pipeline that drifted::

    {
      "format": 1,
      "pipeline": "seed",
      "sora_core": "0.1.0",
      "graph": {"edges": ["attention.tokens -> generator.condition", ...], "inputs": {...}, "outputs": {...}},
      "graph_sha256": "...",
      "nodes": {
        "attention": {
          "particle": "sora-seed:additive-attention",
          "distribution": "sora-seed",
          "version": "0.1.0",
          "class": "sora_seed.attention:AdditiveAttention",
          "config": {"attention_size": 256, ...},
          "config_sha256": "...",
          "weights": null,
          "device": null,
          "dtype": null,
          "files": {}
        }
      }
    }

Weight hashes come from the ``manifest.json`` that ``save_pretrained`` writes (loading already checked every
file against it), so locking does not read the weights again. Files a particle reads from elsewhere (the pretrained
weights a ``pretrained_on_create`` particle loads in its constructor) are hashed under the names its
``loaded_files()`` gives them. This module imports no torch.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sora_core import __version__
from sora_core.atomic import atomic_write_text
from sora_core.errors import LockDriftError, LockFileError
from sora_core.pipeline.pipeline import resolve_weights_path
from sora_core.registry import RUNTIME_DIST
from sora_core.safe_json import load_json_bytes
from sora_core.safetensors_io import CONFIG_NAME, MANIFEST_NAME, is_weights_dir_file, read_manifest, sha256_file

if TYPE_CHECKING:
    from sora_core.metadata import ParticleInfo
    from sora_core.particle import Particle
    from sora_core.pipeline.pipeline import Pipeline
    from sora_core.pipeline.spec import NodeSpec

__all__ = [
    "FORMAT",
    "LockFileError",
    "check_lock",
    "loaded_files",
    "lock_data",
    "lock_drift",
    "read_lock",
    "write_lock",
]

#: The lock file format this sora-core writes and reads.
FORMAT = 1
#: A hex sha256 digest.
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
_SHOWN = 12  # hex digits of a hash shown in messages
_RELOCK = "write a new lock with `sora lock SPEC_OR_TEMPLATE -o {path}`"


# --- the format ------------------------------------------------------------------------------------------------


class LockedGraph(BaseModel):
    """The wiring: edges as ``"node.port -> node.port"`` strings, inputs and outputs, each sorted."""

    model_config = ConfigDict(extra="forbid")

    edges: list[str]
    inputs: dict[str, list[str]]
    outputs: dict[str, str]
    components: list[str] | None = Field(None, description="'consumer.slot <- node' bindings (absent when none)")


class LockedNode(BaseModel):
    """What one node was built from."""

    model_config = ConfigDict(extra="forbid")

    particle: str
    distribution: str | None
    version: str | None
    particle_class: str = Field(alias="class", description="module:qualname of the particle's class")
    config: dict[str, Any]
    config_sha256: Sha256
    weights: str | None = Field(description="the spec's weights: 'default', a path, or null (fresh)")
    device: str | None = Field(None, description="the spec's device for the node (null: as built)")
    dtype: str | None = Field(None, description="the spec's dtype for the node (null: as built)")
    files: dict[str, Sha256] = Field(description="weight file name -> sha256")

    @model_validator(mode="after")
    def _config_matches_hash(self) -> LockedNode:
        if canonical_sha256(self.config) != self.config_sha256:
            raise ValueError("config does not match config_sha256 (edited by hand?)")
        return self


class LockFile(BaseModel):
    """A whole lock file."""

    model_config = ConfigDict(extra="forbid")

    format: Literal[1]
    pipeline: str
    sora_core: str
    graph: LockedGraph
    graph_sha256: Sha256
    nodes: dict[str, LockedNode]

    @model_validator(mode="after")
    def _graph_matches_hash(self) -> LockFile:
        if canonical_sha256(self.graph.model_dump(exclude_none=True)) != self.graph_sha256:
            raise ValueError("graph does not match graph_sha256 (edited by hand?)")
        return self

    def to_data(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def canonical_sha256(data: Any) -> str:
    """The sha256 of ``data`` as canonical JSON: sorted keys, no spaces."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- recording a pipeline -----------------------------------------------------------------------------------------


def lock_data(pipe: Pipeline) -> dict[str, Any]:
    """What ``pipe`` is built from, as the plain data of a lock file (format :data:`FORMAT`)."""
    graph = _graph(pipe)
    return {
        "format": FORMAT,
        "pipeline": pipe.name,
        "sora_core": __version__,
        "graph": graph,
        "graph_sha256": canonical_sha256(graph),
        "nodes": {name: _node(pipe, name) for name in pipe.order},
    }


def _graph(pipe: Pipeline) -> dict[str, Any]:
    spec = pipe.spec
    graph: dict[str, Any] = {
        "edges": sorted(str(edge) for edge in spec.edges),
        "inputs": {name: sorted(targets) for name, targets in sorted(spec.inputs.items())},
        "outputs": dict(sorted(spec.outputs.items())),
    }
    components = sorted(
        f"{name}.{slot} <- {target}" for name, node in spec.nodes.items() for slot, target in node.components.items()
    )
    if components:
        graph["components"] = components
    return graph


def _node(pipe: Pipeline, name: str) -> dict[str, Any]:
    node_spec = pipe.spec.nodes[name]
    particle = pipe.nodes[name]
    info = pipe.registry.info(node_spec.particle)
    config = particle.config.model_dump(mode="json")
    installed = info.dist != RUNTIME_DIST
    cls = type(particle)
    return {
        "particle": info.full_name,
        "distribution": info.dist if installed else None,
        "version": (info.dist_version or None) if installed else None,
        "class": f"{cls.__module__}:{cls.__qualname__}",
        "config": config,
        "config_sha256": canonical_sha256(config),
        "weights": node_spec.weights,
        "device": node_spec.device,
        "dtype": node_spec.dtype,
        "files": _files(pipe, name, info, cls),
    }


def _files(pipe: Pipeline, name: str, info: ParticleInfo, cls: type[Particle]) -> dict[str, str]:
    """The node's weight files and the files its particle loaded itself, which must not share a name."""
    weights = weight_files(pipe.spec.nodes[name], info, pipe.base_dir, cls)
    loaded = loaded_files(pipe.nodes[name], name)
    clash = sorted(set(weights) & set(loaded))
    if clash:
        raise LockFileError(
            f"node {name!r} ({info.full_name}) names {', '.join(clash)} both as a weight file and as a file it loaded",
            "give the particle's loaded_files() names that say where each file comes from (package/file)",
        )
    return {**weights, **loaded}


def weight_files(
    node: NodeSpec, info: ParticleInfo, base_dir: Path | None, cls: type[Particle] | None = None
) -> dict[str, str]:
    """The sha256 of each weight file a node is loaded from, by file name (``{}`` for a fresh node).

    The location is resolved as :func:`~sora_core.pipeline.pipeline.build_node` does: ``"default"`` is the
    plugin's shipped weights, any other path is relative to the spec file's directory. A folder in a foreign
    layout (a diffusers component) has every file its class reads hashed here, links followed.
    """
    if node.weights is None:
        return {}
    location = info.default_weights if node.weights == "default" else resolve_weights_path(node.weights, base_dir)
    if location is None:
        return {}
    path = Path(location)
    listed = cls.pretrained_files(path) if cls is not None and path.is_dir() else None
    if listed is not None:
        return {name: sha256_file(path / name) for name in sorted(listed)}
    if path.is_file():  # one .safetensors file, with its sibling config.json if any
        sibling = path.parent / CONFIG_NAME
        return {p.name: sha256_file(p) for p in (path, sibling) if p.is_file()}
    if (path / MANIFEST_NAME).is_file():  # loading verified every file against it
        return {name: entry["sha256"] for name, entry in sorted(read_manifest(path / MANIFEST_NAME).items())}
    if path.is_dir():
        return {p.name: sha256_file(p) for p in sorted(path.iterdir()) if is_weights_dir_file(p)}
    return {}


def loaded_files(particle: Particle, node: str = "") -> dict[str, str]:
    """The sha256 of each file ``particle`` read outside a weights folder (its
    :meth:`~sora_core.particle.Particle.loaded_files`: the pretrained weights a ``pretrained_on_create`` particle
    loads in its constructor), by the name the particle gives it."""
    where = f"node {node!r} ({particle.display_name()})" if node else particle.display_name()
    hashes = {}
    for name, location in sorted(particle.loaded_files().items()):
        path = Path(location)
        if not path.is_file():
            raise LockFileError(
                f"{where} names {name!r} among the files it loaded, but {path} is not a file",
                "reinstall the package that provides it, or fix the particle's loaded_files()",
            )
        hashes[str(name)] = sha256_file(path)
    return hashes


# --- writing and reading ------------------------------------------------------------------------------------------


def write_lock(pipe: Pipeline, path: str | os.PathLike[str]) -> Path:
    """Write ``pipe``'s lock to ``path`` (sorted, indented JSON) atomically, and return the path."""
    target = Path(path)
    text = json.dumps(lock_data(pipe), indent=2, sort_keys=True) + "\n"
    try:
        _write_atomically(target, text)
    except OSError as exc:
        raise LockFileError(
            f"cannot write lock file {target}: {exc.strerror or exc}", "check that its directory exists and is writable"
        ) from None
    return target


def _write_atomically(path: Path, text: str) -> None:
    """A temporary file beside ``path``, flushed to disk, then renamed over it: readers never see half a lock."""
    atomic_write_text(path, text, fsync=True)


def read_lock(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The validated contents of the lock file at ``path``; :class:`LockFileError` names the file on any problem."""
    path = Path(path)
    relock = _RELOCK.format(path=path)
    if not path.is_file():
        reason = "is a directory" if path.is_dir() else "does not exist"
        raise LockFileError(f"lock file {path} {reason}", f"check the path, or {relock}")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LockFileError(f"cannot read lock file {path}: {exc.strerror or exc}", "check its permissions") from None
    data = load_json_bytes(raw, f"lock file {path}", error=LockFileError, hint=f"restore it, or {relock}")
    return _validate(data, f"lock file {path}", relock).to_data()


def _validate(data: Any, source: str, relock: str) -> LockFile:
    if not isinstance(data, dict) or "format" not in data:
        raise LockFileError(f"{source} is not a sora lock file (no 'format' field)", relock)
    if data["format"] != FORMAT:
        raise LockFileError(
            f"{source} has format {data['format']!r}; this sora-core reads format {FORMAT}",
            f"use the sora-core that wrote it, or {relock}",
        )
    try:
        return LockFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or '(lock)'}: {error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors()
        )
        raise LockFileError(f"{source} is invalid: {problems}", f"restore it, or {relock}") from None


# --- drift ------------------------------------------------------------------------------------------------------


def lock_drift(pipe: Pipeline, lock: Mapping[str, Any]) -> list[str]:
    """Every difference between ``pipe`` and ``lock`` (as :func:`read_lock` returns it), one sentence each.

    An empty list means the pipeline is exactly what was locked.
    """
    locked = _validate(dict(lock), "lock data", _RELOCK.format(path="FILE"))
    return _drift(locked, LockFile.model_validate(lock_data(pipe)))


def check_lock(pipe: Pipeline, path: str | os.PathLike[str]) -> None:
    """Raise :class:`~sora_core.errors.LockDriftError` listing every drift of ``pipe`` from the lock at ``path``."""
    locked = LockFile.model_validate(read_lock(path))
    current = LockFile.model_validate(lock_data(pipe))
    drifts = _drift(locked, current)
    if not drifts:
        return
    where = f"pipeline {pipe.name!r} does not match lock file {path}"
    if len(drifts) == 1:
        message = f"{where}: {drifts[0]}"
    else:
        message = f"{where} ({len(drifts)} differences):\n" + "\n".join(f"  - {d}" for d in drifts)
    raise LockDriftError(message, _drift_hint(locked, current, path))


def _drift(locked: LockFile, current: LockFile) -> list[str]:
    drifts = _header_drift(locked, current)
    if locked.graph_sha256 != current.graph_sha256:
        drifts.append(_graph_drift(locked, current))
    for name in [*current.nodes, *sorted(set(locked.nodes) - set(current.nodes))]:
        if name not in locked.nodes:
            drifts.append(f"node {name!r} is in the pipeline but not in the lock")
        elif name not in current.nodes:
            drifts.append(f"node {name!r} is in the lock but not in the pipeline")
        else:
            drifts += [f"node {name!r}: {d}" for d in _node_drift(locked.nodes[name], current.nodes[name])]
    return drifts


def _drift_hint(locked: LockFile, current: LockFile, path: str | os.PathLike[str]) -> str:
    """Re-lock, or restore: undo the edits and reinstall the locked versions of what drifted."""
    pins = {
        f"{node.distribution}=={node.version}"
        for name, node in locked.nodes.items()
        if node.distribution and node.version and _version_drifted(node, current.nodes.get(name))
    }
    if locked.sora_core != current.sora_core:
        pins.add(f"sora-core=={locked.sora_core}")
    restore = "restore what it pins (undo the spec, swap or weight changes"
    restore += f"; `pip install {' '.join(sorted(pins))}`)" if pins else ")"
    return f"if the changes are intended, {_RELOCK.format(path=path)}; otherwise {restore}"


def _version_drifted(locked: LockedNode, current: LockedNode | None) -> bool:
    return current is not None and current.distribution == locked.distribution and current.version != locked.version


def _header_drift(locked: LockFile, current: LockFile) -> list[str]:
    drifts = []
    if locked.pipeline != current.pipeline:
        drifts.append(f"pipeline name {locked.pipeline!r} locked, {current.pipeline!r} now")
    if locked.sora_core != current.sora_core:
        drifts.append(f"sora-core version {locked.sora_core} locked, {current.sora_core} installed")
    return drifts


def _graph_drift(locked: LockFile, current: LockFile) -> str:
    before, after = locked.graph, current.graph
    changes = [f"edge '{e}' removed" for e in before.edges if e not in after.edges]
    changes += [f"edge '{e}' added" for e in after.edges if e not in before.edges]
    changes += _mapping_changes("input", before.inputs, after.inputs)
    changes += _mapping_changes("output", before.outputs, after.outputs)
    bound_before, bound_after = before.components or [], after.components or []
    changes += [f"component '{c}' removed" for c in bound_before if c not in bound_after]
    changes += [f"component '{c}' added" for c in bound_after if c not in bound_before]
    return f"graph rewired ({_hashes(locked.graph_sha256, current.graph_sha256)}): " + "; ".join(changes)


def _mapping_changes(what: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    changes = []
    for name in sorted(set(before) | set(after)):
        if name not in after:
            changes.append(f"{what} {name!r} removed")
        elif name not in before:
            changes.append(f"{what} {name!r} added ({_show(after[name])})")
        elif before[name] != after[name]:
            changes.append(f"{what} {name!r} {_show(before[name])} -> {_show(after[name])}")
    return changes


def _node_drift(locked: LockedNode, current: LockedNode) -> list[str]:
    drifts = []
    if locked.particle != current.particle:
        drifts.append(f"particle {locked.particle} locked, {current.particle} now")
    if locked.distribution != current.distribution:
        drifts.append(f"distribution {_dist(locked)} locked, {_dist(current)} now")
    elif locked.version != current.version:
        drifts.append(f"{locked.distribution} version {locked.version} locked, {current.version} installed")
    if locked.particle_class != current.particle_class:
        drifts.append(f"class {locked.particle_class} locked, {current.particle_class} now")
    if locked.config_sha256 != current.config_sha256:
        changes = _config_changes(locked.config, current.config)
        detail = ": " + ", ".join(changes) if changes else ""
        drifts.append(f"config hash changed ({_hashes(locked.config_sha256, current.config_sha256)}){detail}")
    for field in ("weights", "device", "dtype"):
        before, after = getattr(locked, field), getattr(current, field)
        if before != after:
            drifts.append(f"{field} {_show(before)} locked, {_show(after)} now")
    drifts += _file_drift(locked.files, current.files)
    return drifts


def _config_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    changes = []
    for key in sorted(set(before) | set(after)):
        if key not in after:
            changes.append(f"{key} removed (was {_show(before[key])})")
        elif key not in before:
            changes.append(f"{key} added (= {_show(after[key])})")
        elif before[key] != after[key]:
            changes.append(f"{key} {_show(before[key])} -> {_show(after[key])}")
    return changes


def _file_drift(locked: Mapping[str, str], current: Mapping[str, str]) -> list[str]:
    drifts = []
    for name in sorted(set(locked) | set(current)):
        if name not in current:
            drifts.append(f"weight file {name} is locked but no longer there")
        elif name not in locked:
            drifts.append(f"weight file {name} is not in the lock")
        elif locked[name] != current[name]:
            drifts.append(f"weight file {name} sha256 changed ({_hashes(locked[name], current[name])})")
    return drifts


def _dist(node: LockedNode) -> str:
    return f"{node.distribution} {node.version}" if node.distribution else "none (registered at run time)"


def _hashes(locked: str, now: str) -> str:
    return f"locked {locked[:_SHOWN]}..., now {now[:_SHOWN]}..."


def _show(value: Any) -> str:
    """A value as compact JSON (``null`` for ``None``)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
