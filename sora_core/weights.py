"""Saving and loading particles: ``config.json``, safetensors weights and a sha256 manifest.

A pretrained directory (format 1) holds::

    config.json                  {"particle": "module:Class", "kind": ..., "config": {...}, "format": 1}
                                 (+ "storage_dtype": "float16" when floating tensors are stored narrower)
    model.safetensors            the state dict; above max_shard_size instead
                                 model-00001-of-0000N.safetensors ... and model.safetensors.index.json
    manifest.json                {"format": 1, "files": {name: {"sha256": ..., "size": ...}}}

Loading never unpickles. Hashes and headers are checked first, every stored tensor is compared with the
module built on the meta device, and only then are tensors read through a memory map and assigned, so the weights
are never held twice and a failed load leaves nothing half-built. torch is imported only when a learned
particle is saved or loaded: tools read configs and verify hashes without it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sora_core.errors import (
    ConfigError,
    CorruptWeightsError,
    MissingWeightsError,
    SoraError,
    TensorMismatchError,
    UnknownParticleClassError,
    WeightsError,
)
from sora_core.particle import Particle
from sora_core.safetensors_io import (
    ALIASES_KEY,
    CONFIG_NAME,
    FORMAT,
    INDEX_NAME,
    NAME_KEY,
    RESAVE_HINT,
    STORAGE_DTYPE_KEY,
    STORAGE_DTYPES,
    WEIGHTS_NAME,
    SafetensorsHeader,
    TensorInfo,
    atomic_directory,
    check_directory_files,
    parse_size,
    read_config,
    read_header,
    refuse_pickles,
    stored_tensors,
    unsafe_error,
    verify_directory,
    weight_headers,
    write_json,
    write_manifest,
)

if TYPE_CHECKING:
    import torch

__all__ = [
    "DEFAULT_MAX_SHARD_SIZE",
    "load_pretrained",
    "read_config",
    "resolve_dtype",
    "save_pretrained",
    "verify_directory",
]

P = TypeVar("P", bound=Particle)

DEFAULT_MAX_SHARD_SIZE = "2GB"
#: What a constructor raises when a config asks for sizes it cannot build (or torch cannot index).
_BUILD_ERRORS = (RuntimeError, NotImplementedError, MemoryError, OverflowError, ValueError, TypeError)


# --- saving -----------------------------------------------------------------------------------------------------


def save_pretrained(
    particle: Particle,
    directory: str | os.PathLike[str],
    *,
    max_shard_size: int | str | None = None,
    storage_dtype: Any = None,
) -> None:
    """Write ``particle`` to ``directory`` atomically: staged in a sibling directory, then renamed into place.

    ``storage_dtype`` (``"float16"``, ``torch.bfloat16``) stores every floating tensor in that dtype (half the
    bytes of float32) and records it in ``config.json``; loading casts them back to the dtype the particle is
    built with.
    """
    limit = parse_size(DEFAULT_MAX_SHARD_SIZE if max_shard_size is None else max_shard_size)
    storage = None if storage_dtype is None else resolve_dtype(storage_dtype)
    if storage is not None and _dtype_name(storage) not in STORAGE_DTYPES:
        raise ConfigError(
            f"storage_dtype {storage_dtype!r} cannot be loaded back", f"use one of {', '.join(STORAGE_DTYPES)}"
        )
    with atomic_directory(Path(os.path.abspath(directory))) as staging:
        write_json(staging / CONFIG_NAME, _config_payload(particle, storage))
        if _is_module_class(type(particle)):
            _write_weights(cast("torch.nn.Module", particle), staging, limit, storage)
        write_manifest(staging)


def _config_payload(particle: Particle, storage: torch.dtype | None) -> dict[str, Any]:
    cls = type(particle)
    payload = {
        "particle": _qualified(cls),
        "kind": cls.kind,
        "config": particle.config.model_dump(mode="json"),
        "format": FORMAT,
    }
    name = _registered_name(particle)
    if name is not None:
        payload[NAME_KEY] = name
    if storage is not None and _is_module_class(cls):
        payload[STORAGE_DTYPE_KEY] = _dtype_name(storage)
    return payload


def _registered_name(particle: Particle) -> str | None:
    """``dist:name`` of the installed entry point that provides ``particle``'s class, when there is one."""
    from sora_core.registry import RUNTIME_DIST, default_registry

    name = particle.registered_name
    if name and not name.startswith(f"{RUNTIME_DIST}:"):
        return name
    info = default_registry.installed_by_class(_qualified(type(particle)))
    return None if info is None else info.full_name


def _write_weights(module: torch.nn.Module, directory: Path, limit: int, storage: torch.dtype | None) -> None:
    from safetensors.torch import save_file

    tensors, aliases = _tensors_to_store(module)
    if storage is not None:
        tensors = {name: t.to(storage) if t.is_floating_point() else t for name, t in tensors.items()}
    shards = _plan_shards(tensors, limit)
    count = len(shards)
    names = [WEIGHTS_NAME] if count == 1 else [f"model-{i:05d}-of-{count:05d}.safetensors" for i in range(1, count + 1)]
    for name, shard in zip(names, shards, strict=True):
        metadata = {"format": "pt"}
        shard_aliases = {alias: stored for alias, stored in aliases.items() if stored in shard}
        if shard_aliases:
            metadata[ALIASES_KEY] = json.dumps(shard_aliases, sort_keys=True)
        save_file(shard, str(directory / name), metadata=metadata)
    if count > 1:
        index = {
            "metadata": {"total_size": sum(t.numel() * t.element_size() for t in tensors.values())},
            "weight_map": {tensor: name for name, shard in zip(names, shards, strict=True) for tensor in sorted(shard)},
        }
        write_json(directory / INDEX_NAME, index)


def _tensors_to_store(module: torch.nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The state dict as safetensors accepts it, and ``{alias: stored name}`` for tied tensors stored once.

    Names viewing exactly the same memory are ties; other overlapping views are copied apart (safetensors
    refuses shared memory), and non-contiguous tensors are packed.
    """
    import torch

    tensors: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    views: dict[tuple[Any, ...], str] = {}
    storages: set[tuple[Any, ...]] = set()
    for name, tensor in module.state_dict().items():
        if tensor.is_meta:
            raise WeightsError(
                f"cannot save tensor {name!r}: it is on the meta device", "load or initialise the weights first"
            )
        tensor = tensor.detach()
        storage = (tensor.device, tensor.untyped_storage().data_ptr())
        view = (*storage, tensor.storage_offset(), tuple(tensor.shape), tensor.stride(), tensor.dtype)
        if tensor.numel() and view in views:
            aliases[name] = views[view]
            continue
        shared = tensor.numel() > 0 and storage in storages
        views[view] = name
        storages.add(storage)
        tensor = tensor.cpu()
        tensors[name] = tensor.clone(memory_format=torch.contiguous_format) if shared else tensor.contiguous()
    return tensors, aliases


def _plan_shards(tensors: dict[str, torch.Tensor], limit: int) -> list[dict[str, torch.Tensor]]:
    """Greedy shards of at most ``limit`` bytes in state-dict order (a bigger tensor gets a shard alone)."""
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for name, tensor in tensors.items():
        nbytes = tensor.numel() * tensor.element_size()
        if shards[-1] and size + nbytes > limit:
            shards.append({})
            size = 0
        shards[-1][name] = tensor
        size += nbytes
    return shards


# --- loading ----------------------------------------------------------------------------------------------------


def load_pretrained(
    cls: type[P], directory: str | os.PathLike[str], *, dtype: Any = None, device: Any = None, verify: bool = True
) -> P:
    """Build a ``cls`` from a directory written by :func:`save_pretrained`, or from one ``.safetensors`` file."""
    path = Path(directory)
    if dtype is not None:
        dtype = resolve_dtype(dtype)
    if not path.exists():
        raise MissingWeightsError(f"{path} does not exist", "pass a directory written by save_pretrained")
    if path.is_file():
        return _load_file(cls, path, dtype, device)
    check_directory_files(path)
    refuse_pickles(path)
    if verify:
        verify_directory(path)
    payload = read_config(path)
    config_path = path / CONFIG_NAME
    target = _resolve_class(cls, payload, config_path)
    if not _is_module_class(target):
        return cast(P, _build(target, payload["config"], config_path))
    headers = weight_headers(path)
    module = _load_module(target, payload["config"], config_path, headers, path, payload.get(STORAGE_DTYPE_KEY))
    return cast(P, _finish(module, dtype, device))


def _load_file(cls: type[P], path: Path, dtype: Any, device: Any) -> P:
    """One ``.safetensors`` file, config from the sibling ``config.json`` if any, else ``cls``'s defaults.

    There is no manifest, so hashes are not checked; names, shapes and dtypes are.
    """
    if path.suffix != ".safetensors":
        raise unsafe_error(path, "is not a .safetensors file")
    header = read_header(path)
    target: type[Particle] = cls
    config: dict[str, Any] = {}
    storage: str | None = None
    config_source = path  # names the file in config errors when the defaults are used
    if (path.parent / CONFIG_NAME).is_file():
        payload, config_source = read_config(path.parent), path.parent / CONFIG_NAME
        target, config = _resolve_class(cls, payload, config_source), payload["config"]
        storage = payload.get(STORAGE_DTYPE_KEY)
    if not _is_module_class(target):
        raise WeightsError(f"cannot load {path}: {_qualified(target)} has no weights", "load its directory instead")
    module = _load_module(target, config, config_source, [header], path, storage)
    return cast(P, _finish(module, dtype, device))


def _resolve_class(cls: type[Particle], payload: dict[str, Any], config_path: Path) -> type[Particle]:
    """The class to build: ``cls`` if it is (a subclass of) the stored particle, else the stored subclass of ``cls``.

    The stored class is never imported from ``config.json``'s text: it must be an installed ``sora.particles``
    entry point (found by ``name``, or by the ``particle`` string equal to an entry point's value), loaded through
    the registry. A folder's own files are data, never code.
    """
    stored = payload["particle"]
    if stored in {_qualified(base) for base in cls.__mro__}:
        return cls
    from sora_core.registry import default_registry

    try:
        stored_cls = default_registry.class_for_config(payload, config_path)
    except UnknownParticleClassError as exc:
        raise UnknownParticleClassError(f"{exc.message}; it is not a {_qualified(cls)}", exc.hint) from None
    if issubclass(stored_cls, cls):
        return stored_cls
    saved_by = payload.get(NAME_KEY) or stored
    raise WeightsError(
        f"{config_path} was saved by particle {saved_by}, which is not a {_qualified(cls)}",
        f"load it with registry.load({saved_by!r}, weights=...), or use weights saved by {cls.__qualname__}",
    )


def _build(cls: type[Particle], config: dict[str, Any], config_path: Path) -> Particle:
    try:
        return cls(config)
    except ConfigError as exc:
        raise ConfigError(f"{config_path}: {exc.message}", f"fix {CONFIG_NAME} or {RESAVE_HINT}") from None


def _load_module(
    cls: type[Particle],
    config: dict[str, Any],
    config_path: Path,
    headers: list[SafetensorsHeader],
    source: Path,
    storage: str | None = None,
) -> torch.nn.Module:
    """``storage``: the dtype name ``config.json`` says floating tensors were stored in (cast on assignment)."""
    module = _construct_on_meta(cls, config, config_path)
    stored, aliases = stored_tensors(headers)
    sources = _check_tensors(module, stored, aliases, source, storage)
    if _needs_real_init(module):
        # Non-persistent buffers (or plain tensor attributes) get their values only from a real construction.
        _check_real_size(module, config_path)
        module = _build_real(cls, config, config_path)
    ties = _tie_groups(module)
    tensors = _read_tensors(headers, set(sources.values()))
    expected = module.state_dict()
    state = {name: _aligned(tensors[src].to(expected[name].dtype)) for name, src in sources.items()}
    module.load_state_dict(state, strict=True, assign=True)
    _retie(module, ties)
    for name, tensor in _named_tensors(module):
        if tensor.is_meta:
            raise WeightsError(f"loading {source} left tensor {name!r} unmaterialised", "report this as a bug")
    return module


def _construct_on_meta(cls: type[Particle], config: dict[str, Any], config_path: Path) -> torch.nn.Module:
    import torch

    try:
        with torch.device("meta"):
            return cast("torch.nn.Module", _build(cls, config, config_path))
    except SoraError:
        raise
    except _BUILD_ERRORS as exc:
        if not isinstance(exc, NotImplementedError) and "meta" not in str(exc).lower():
            raise _unbuildable(cls, config_path, exc) from None
        # The constructor needs real data (e.g. ``.item()``); build normally, it is checked the same way.
        return _build_real(cls, config, config_path)


def _build_real(cls: type[Particle], config: dict[str, Any], config_path: Path) -> torch.nn.Module:
    try:
        return cast("torch.nn.Module", _build(cls, config, config_path))
    except SoraError:
        raise
    except _BUILD_ERRORS as exc:
        raise _unbuildable(cls, config_path, exc) from None


def _check_real_size(module: torch.nn.Module, config_path: Path) -> None:
    """Refuse to build for real a module whose tensors (as built on meta) exceed the particle budget."""
    from sora_core.limits import PARTICLE_BUDGET_VARIABLE, format_bytes, max_particle_bytes

    size = sum(t.numel() * t.element_size() for _, t in _named_tensors(module))
    limit = max_particle_bytes()
    if size > limit:
        raise ConfigError(
            f"{config_path}: {type(module).__qualname__} built from it would hold {format_bytes(size)} of tensors, "
            f"over the {format_bytes(limit)} limit on one particle",
            f"fix {CONFIG_NAME} or {RESAVE_HINT}; raise the limit with {PARTICLE_BUDGET_VARIABLE} if it is right",
        )


def _unbuildable(cls: type[Particle], config_path: Path, exc: BaseException) -> ConfigError:
    reason = (str(exc).splitlines() or [""])[0][:200]
    return ConfigError(
        f"{config_path}: {cls.__qualname__} cannot be built from its config ({type(exc).__name__}: {reason})",
        f"fix {CONFIG_NAME} (sizes too large?) or {RESAVE_HINT}",
    )


def _check_tensors(
    module: torch.nn.Module,
    stored: dict[str, tuple[Path, TensorInfo]],
    aliases: dict[str, str],
    source: Path,
    storage: str | None = None,
) -> dict[str, str]:
    """Map each expected tensor to the stored one that fills it; raise listing every mismatch at once.

    A floating tensor stored in ``storage`` (the ``storage_dtype`` of ``config.json``) fills a floating one of any
    dtype; every other dtype difference is a mismatch."""
    ties = {name: group for group in _tie_groups(module) for name in group}
    sources: dict[str, str] = {}
    problems: list[str] = []
    for name, tensor in module.state_dict().items():
        candidates = [name, aliases.get(name, ""), *ties.get(name, [])]
        src = next((c for c in candidates if c in stored), None)
        expected = TensorInfo(str(tensor.dtype).removeprefix("torch."), tuple(tensor.shape))
        if src is None:
            problems.append(f"tensor {name!r} (shape {expected.shape}, {expected.dtype}) is missing")
            continue
        sources[name] = src
        path, info = stored[src]
        where = f"tensor {name!r} in {path.name}" + (f" (stored as {src!r})" if src != name else "")
        if info.shape != expected.shape:
            problems.append(f"{where} has shape {info.shape}, the model expects {expected.shape}")
        narrowed = storage is not None and info.dtype == storage and tensor.is_floating_point()
        if info.dtype != expected.dtype and not narrowed:
            problems.append(f"{where} has dtype {info.dtype}, the model expects {expected.dtype}")
    for name in sorted((set(stored) | set(aliases)) - set(module.state_dict())):
        where = stored[name][0].name if name in stored else stored[aliases[name]][0].name
        problems.append(f"tensor {name!r} in {where} is not in the model")
    if problems:
        raise TensorMismatchError(
            f"weights in {source} do not match {type(module).__qualname__} built from its config: "
            + "; ".join(problems),
            "load the weights with the particle class and config they were saved with, or re-save them",
        )
    return sources


def _needs_real_init(module: torch.nn.Module) -> bool:
    import torch

    persistent = set(module.state_dict())
    if any(b.is_meta and n not in persistent for n, b in module.named_buffers(remove_duplicate=False)):
        return True
    return any(isinstance(v, torch.Tensor) and v.is_meta for m in module.modules() for v in vars(m).values())


def _read_tensors(headers: list[SafetensorsHeader], wanted: set[str]) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError, safe_open

    tensors: dict[str, torch.Tensor] = {}
    for header in headers:
        try:
            with safe_open(str(header.path), framework="pt", device="cpu") as file:
                for name in header.tensors.keys() & wanted:
                    tensors[name] = file.get_tensor(name)
        except (SafetensorError, OSError, RuntimeError, ValueError) as exc:
            raise CorruptWeightsError(f"{header.path} cannot be read as safetensors: {exc}", RESAVE_HINT) from exc
    return tensors


def _aligned(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor``, copied when its data does not start on a 64-byte boundary: safetensors hands out tensors at
    the file's offsets, and CPU kernels pick their vector paths by alignment, so a misaligned weight can give
    results a few ulps off the same weight freshly allocated (a loaded particle must compute what was saved)."""
    return tensor.clone() if tensor.data_ptr() % 64 else tensor


def _named_tensors(module: torch.nn.Module) -> Iterable[tuple[str, torch.Tensor]]:
    yield from module.named_parameters(remove_duplicate=False)
    yield from module.named_buffers(remove_duplicate=False)


def _tie_groups(module: torch.nn.Module) -> list[list[str]]:
    """Names under which the same tensor object is registered more than once (tied weights)."""
    groups: dict[int, list[str]] = {}
    for name, tensor in _named_tensors(module):
        groups.setdefault(id(tensor), []).append(name)
    return [names for names in groups.values() if len(names) > 1]


def _retie(module: torch.nn.Module, ties: list[list[str]]) -> None:
    # load_state_dict(assign=True) gives each name its own Parameter; point the aliases back at one object.
    for first, *others in ties:
        owner, _, attr = first.rpartition(".")
        tensor = getattr(module.get_submodule(owner), attr)
        for alias in others:
            owner, _, attr = alias.rpartition(".")
            setattr(module.get_submodule(owner), attr, tensor)


def _finish(module: torch.nn.Module, dtype: Any, device: Any) -> torch.nn.Module:
    if dtype is not None:
        module.to(dtype=dtype)
    if device is not None:
        module.to(device)
    return module.eval()


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def resolve_dtype(dtype: Any) -> torch.dtype:
    """A floating torch dtype from a dtype or its name (``"float16"``, ``"torch.bfloat16"``)."""
    import torch

    result = dtype if isinstance(dtype, torch.dtype) else getattr(torch, str(dtype).removeprefix("torch."), None)
    if not isinstance(result, torch.dtype) or not result.is_floating_point:
        raise ConfigError(f"dtype {dtype!r} is not a floating-point torch dtype", "use float32, float16 or bfloat16")
    return result


# --- helpers ----------------------------------------------------------------------------------------------------


def _qualified(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _is_module_class(cls: type) -> bool:
    # A class that subclasses nn.Module implies torch is already imported; weightless particles never pull it in.
    torch = sys.modules.get("torch")
    return torch is not None and issubclass(cls, torch.nn.Module)
