"""Saving and resuming a training state atomically, with safetensors and JSON only (no pickle, no torch.load).

A checkpoint is one directory ``<root>/step-000500/``::

    models/<name>/           each model's save_pretrained directory (config.json, model.safetensors, manifest.json)
    training.safetensors     every optimizer tensor (``optimizer.<index>.<key>``) and the torch RNG state
    training.json            step, the optimizer's param groups and scalar state, caller's extra JSON, sha256 of
                             training.safetensors

It is written into a hidden sibling directory and renamed into place, then ``<root>/latest.json`` (written
atomically) is pointed at it, so a crash at any moment leaves the previous checkpoint usable. Resuming
restores weights in place, the optimizer state exactly and the global torch RNG, so the next step is the
step an uninterrupted run would have taken.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from sora_core.atomic import atomic_write_text
from sora_core.errors import SoraError, WeightsError
from sora_core.particle import Particle
from sora_core.safetensors_io import sha256_file

__all__ = ["Checkpoint", "CheckpointError", "latest_checkpoint", "load_checkpoint", "save_checkpoint"]

FORMAT = 1
LATEST = "latest.json"
STATE_JSON = "training.json"
STATE_TENSORS = "training.safetensors"
MODELS = "models"
_RNG_KEY = "rng.torch"


class CheckpointError(SoraError):
    """A checkpoint that is missing, incomplete, corrupted or does not fit the models being trained."""


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` restored besides the modules and optimizer: the step and caller's JSON."""

    path: Path
    step: int
    extra: dict[str, Any] = field(default_factory=dict)


def _flatten_optimizer(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entries in state["state"].items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{index}.{key}"] = value.detach().clone().contiguous()
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, tensor in tensors.items():
        if not name.startswith("optimizer."):
            continue
        _, index, key = name.split(".", 2)
        state.setdefault(int(index), {})[key] = tensor
    for index, entries in meta["scalars"].items():
        state.setdefault(int(index), {}).update(entries)
    groups = [
        {k: tuple(v) if isinstance(v, list) and k != "params" else v for k, v in group.items()}
        for group in meta["param_groups"]
    ]
    return {"state": state, "param_groups": groups}


def save_checkpoint(
    root: str | os.PathLike[str],
    step: int,
    models: dict[str, Particle],
    optimizer: torch.optim.Optimizer | None = None,
    extra: dict[str, Any] | None = None,
    keep: int = 2,
) -> Path:
    """Write the training state at ``step`` under ``root`` atomically; keep the newest ``keep`` checkpoints.

    ``models`` maps a name to a particle (an ``nn.Module`` with ``save_pretrained``); ``extra`` is any
    JSON the caller wants back on resume (its config, counters).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    name = f"step-{step:07d}"
    target = root / name
    staging = root / f".{name}.{uuid.uuid4().hex[:8]}.tmp"
    staging.mkdir()
    try:
        for model_name, model in models.items():
            model.save_pretrained(staging / MODELS / model_name)
        tensors: dict[str, torch.Tensor] = {_RNG_KEY: torch.get_rng_state()}
        meta: dict[str, Any] = {"param_groups": [], "scalars": {}}
        if optimizer is not None:
            opt_tensors, meta = _flatten_optimizer(optimizer)
            tensors.update(opt_tensors)
        save_file(tensors, str(staging / STATE_TENSORS), metadata={"format": str(FORMAT)})
        payload = {
            "format": FORMAT,
            "step": step,
            "models": sorted(models),
            "optimizer": meta if optimizer is not None else None,
            "extra": extra or {},
            "sha256": {STATE_TENSORS: sha256_file(staging / STATE_TENSORS)},
        }
        (staging / STATE_JSON).write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    atomic_write_text(root / LATEST, json.dumps({"format": FORMAT, "step": step, "path": name}) + "\n")
    _prune(root, keep, current=name)
    return target


def _prune(root: Path, keep: int, current: str) -> None:
    olds = sorted(p for p in root.glob("step-*") if p.is_dir() and p.name != current)
    for old in olds[: max(0, len(olds) - (keep - 1))]:
        shutil.rmtree(old, ignore_errors=True)


def latest_checkpoint(root: str | os.PathLike[str]) -> Path | None:
    """The directory ``root/latest.json`` points at, or ``None`` when ``root`` holds no checkpoint yet."""
    pointer = Path(root) / LATEST
    if not pointer.exists():
        return None
    try:
        data = json.loads(pointer.read_text())
        path = Path(root) / data["path"]
    except (ValueError, KeyError, TypeError) as error:
        raise CheckpointError(
            f"{pointer} is not a checkpoint pointer ({error})", f"delete {pointer} to start over"
        ) from None
    if not path.is_dir():
        raise CheckpointError(f"{pointer} points at {path}, which does not exist", "delete the pointer to start over")
    return path


def _read_state(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    hint = "resume from another checkpoint (or start over); this one cannot be trusted"
    try:
        payload = json.loads((path / STATE_JSON).read_text())
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} has no {STATE_JSON}: it is incomplete", hint) from None
    except ValueError as error:
        raise CheckpointError(f"checkpoint {path}: {STATE_JSON} is not valid JSON ({error})", hint) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path}: {STATE_JSON} is not format {FORMAT}", hint)
    tensor_file = path / STATE_TENSORS
    if not tensor_file.exists():
        raise CheckpointError(f"checkpoint {path} has no {STATE_TENSORS}: it is incomplete", hint)
    expected = payload.get("sha256", {}).get(STATE_TENSORS)
    actual = sha256_file(tensor_file)
    if actual != expected:
        raise CheckpointError(
            f"checkpoint {path}: {STATE_TENSORS} is corrupted (sha256 {actual}, {STATE_JSON} records {expected})", hint
        )
    try:
        tensors = load_file(str(tensor_file))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"checkpoint {path}: {STATE_TENSORS} cannot be read ({error})", hint) from None
    return payload, tensors


def load_checkpoint(
    path: str | os.PathLike[str],
    models: dict[str, Particle],
    optimizer: torch.optim.Optimizer | None = None,
) -> Checkpoint:
    """Restore ``models`` (in place), ``optimizer`` and the torch RNG from the checkpoint directory ``path``.

    Every file is checked first (sha256 of the training tensors, each model's weights manifest, tensor
    names and shapes); any problem raises :class:`CheckpointError` before anything is modified.
    """
    path = Path(path)
    payload, tensors = _read_state(path)
    if sorted(models) != payload.get("models"):
        raise CheckpointError(
            f"checkpoint {path} holds models {payload.get('models')}, the run trains {sorted(models)}",
            "resume with the same models, or use another --out",
        )
    states = {}
    for name, model in models.items():
        try:
            loaded = type(model).from_pretrained(path / MODELS / name, verify=True)
        except WeightsError as error:
            raise CheckpointError(f"checkpoint {path}: model {name!r} cannot be loaded: {error}", error.hint) from None
        if loaded.config != model.config:
            raise CheckpointError(
                f"checkpoint {path}: model {name!r} was saved with config {loaded.config.model_dump()}, "
                f"the run builds {model.config.model_dump()}",
                "resume with the same configuration",
            )
        states[name] = cast_module(loaded).state_dict()
    optimizer_state = None
    if optimizer is not None:
        if payload.get("optimizer") is None:
            raise CheckpointError(f"checkpoint {path} has no optimizer state", "start over without --resume")
        optimizer_state = _unflatten_optimizer(tensors, payload["optimizer"])
    for name, model in models.items():
        cast_module(model).load_state_dict(states[name])
    if optimizer is not None and optimizer_state is not None:
        try:
            optimizer.load_state_dict(optimizer_state)
        except (ValueError, KeyError) as error:
            raise CheckpointError(f"checkpoint {path}: optimizer state does not fit ({error})", "start over") from None
    torch.set_rng_state(tensors[_RNG_KEY])
    return Checkpoint(path=path, step=int(payload["step"]), extra=payload.get("extra", {}))


def cast_module(particle: Particle) -> nn.Module:
    """``particle`` as an ``nn.Module`` (learned particles are both)."""
    if not isinstance(particle, nn.Module):
        raise CheckpointError(f"{type(particle).__name__} is not an nn.Module", "checkpoint learned particles only")
    return particle


def resume_or_start(root: Path, models: dict[str, Any], optimizer: Any, fixed: dict[str, Any], *, resume: bool) -> int:
    """The step to start from: 0, or (with ``resume``) the newest checkpoint's after loading it.

    ``fixed`` holds the arguments a resumed run must share with the run it continues (stored in the
    checkpoint's ``extra["fixed"]``); a mismatch exits with one line naming both.
    """
    path = latest_checkpoint(root) if resume else None
    if path is None:
        return 0
    state = load_checkpoint(path, models, optimizer)
    saved = state.extra.get("fixed", {})
    if saved != fixed:
        sys.exit(f"error: {path} was trained with {saved}, this run asks for {fixed}")
    print(f"resumed from {path} at step {state.step}", flush=True)
    return state.step


def checkpoint_if_due(
    root: Path,
    step: int,
    models: dict[str, Any],
    optimizer: Any,
    *,
    fixed: dict[str, Any],
    total: int,
    every: int,
    seconds: float,
    time_limit: float | None,
) -> bool:
    """Checkpoint every ``every`` steps, at the last step, and when ``time_limit`` minutes are spent.

    Returns whether the time limit was reached (the caller stops; the run resumes with ``--resume``).
    """
    out_of_time = time_limit is not None and seconds > time_limit * 60
    if step % every == 0 or step == total or out_of_time:
        save_checkpoint(root, step, models, optimizer, extra={"fixed": fixed, "steps": total})
    if out_of_time:
        print(f"time limit reached at step {step}; resume with --resume", flush=True)
    return out_of_time
