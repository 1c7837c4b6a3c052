"""Limits on what a command line or a spec can make sora-core allocate, and checks of seeds and devices.

Every check raises a :class:`~sora_core.errors.ConfigError` naming the flag or field and the limit, before
anything is allocated. The memory budgets default to sizes a laptop survives and can be changed through
environment variables (a plain number of bytes, or with a ``K``/``M``/``G``/``T`` suffix, ``iB`` optional):

* ``SORA_MAX_INPUT_BYTES`` (default 1 GiB): one pipeline input made on the command line (``randn:...``) or
  read from a ``.safetensors`` file;
* ``SORA_MAX_PARTICLE_BYTES`` (default 8 GiB): the parameters and buffers of one freshly created particle
  whose config is overridden (``--set``, a spec's ``config:``), measured on torch's meta device first.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sora_core.errors import ConfigError, PortError, SoraError

if TYPE_CHECKING:
    import torch

    from sora_core.particle import Particle
    from sora_core.registry import Registry

GIB = 2**30
DEFAULT_MAX_INPUT_BYTES = 1 * GIB
DEFAULT_MAX_PARTICLE_BYTES = 8 * GIB
INPUT_BUDGET_VARIABLE = "SORA_MAX_INPUT_BYTES"
PARTICLE_BUDGET_VARIABLE = "SORA_MAX_PARTICLE_BYTES"

#: Seeds are unsigned 64-bit integers (what ``torch.Generator.manual_seed`` takes).
MAX_SEED = 2**64 - 1

_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
_SIZE = re.compile(r"^\s*(\d+)\s*([KMGT]?)(?:I?B)?\s*$", re.IGNORECASE)

#: What a constructor may raise when a config asks for more than the machine has (or more than torch can index).
_ALLOCATION_ERRORS = (RuntimeError, MemoryError, OverflowError, ValueError, TypeError)


def format_bytes(size: int) -> str:
    """``8589934592`` -> ``"8 GiB"``; sizes under 1 KiB in bytes."""
    for unit, factor in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= factor:
            value = size / factor
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"


def budget(variable: str, default: int) -> int:
    """The byte budget set by environment variable ``variable`` (``"512M"``, ``"8GiB"``, ``"1000000"``)."""
    text = os.environ.get(variable)
    if text is None or not text.strip():
        return default
    match = _SIZE.match(text)
    if not match or int(match.group(1)) <= 0:
        raise ConfigError(
            f"{variable}={text!r} is not a size in bytes", f"write e.g. {variable}=512M or {variable}=8GiB"
        )
    return int(match.group(1)) * _UNITS[match.group(2).upper()]


def max_input_bytes() -> int:
    return budget(INPUT_BUDGET_VARIABLE, DEFAULT_MAX_INPUT_BYTES)


def max_particle_bytes() -> int:
    return budget(PARTICLE_BUDGET_VARIABLE, DEFAULT_MAX_PARTICLE_BYTES)


def check_input_size(where: str, shape: tuple[int, ...] | list[int], item_size: int) -> None:
    """Refuse (``PortError``) a tensor of ``shape`` (elements of ``item_size`` bytes) larger than the input budget."""
    limit = max_input_bytes()
    size = item_size
    for dim in shape:
        size *= dim
    if size > limit:
        dims = " x ".join(str(d) for d in shape)
        raise PortError(
            f"{where}: a tensor of {dims} elements needs {format_bytes(size)}, over the "
            f"{format_bytes(limit)} limit on one input",
            f"ask for a smaller tensor, or raise the limit with {INPUT_BUDGET_VARIABLE} (e.g. 4G)",
        )


# --- seeds and devices -------------------------------------------------------------------------------------------


def check_seed(seed: Any, where: str = "seed") -> int | None:
    """``seed`` itself when it is ``None`` or an integer in ``0 ..= 2**64 - 1``; a ``ConfigError`` otherwise."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        shown = repr(seed) if len(repr(seed)) <= 40 else repr(seed)[:37] + "..."
        raise ConfigError(
            f"{where} {shown} is out of range: a seed is an integer from 0 to {MAX_SEED} (2**64 - 1)",
            "pick a smaller seed, e.g. 0",
        )
    return seed


def available_devices() -> list[str]:
    """The devices this machine can run on, as ``--device`` values."""
    import torch

    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if _mps_available():
        devices.append("mps")
    return devices


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def parse_device(value: Any, where: str) -> torch.device:
    """``value`` as a ``torch.device``, checking only that torch can read it (not that this machine has it)."""
    import torch

    if isinstance(value, torch.device):
        return value
    try:
        device = torch.device(value)
    except (RuntimeError, TypeError, ValueError):
        device = None
    if device is None or device.type not in ("cpu", "cuda", "mps") or (device.type == "cpu" and device.index):
        raise ConfigError(
            f"{where} {value!r} is not a device sora-core runs on",
            "use one of " + ", ".join(_device_examples()),
        )
    return device


def check_device(value: Any, where: str) -> torch.device:
    """``value`` as a ``torch.device`` this machine has; a ``ConfigError`` naming ``where`` otherwise."""
    import torch

    device = parse_device(value, where)
    present = {
        "cpu": True,
        "cuda": torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count(),
        "mps": _mps_available(),
    }
    if not present[device.type]:
        raise ConfigError(
            f"{where} {value!r}: this machine has no such device",
            "devices here: " + ", ".join(available_devices()),
        )
    return device


def _device_examples() -> list[str]:
    return sorted({*available_devices(), "cpu", "cuda", "cuda:0", "mps"}, key=lambda d: (d != "cpu", d))


# --- particles -----------------------------------------------------------------------------------------------------


def create_particle(registry: Registry, name: str, config: Mapping[str, Any]) -> Particle:
    """``registry.create(name, **config)``, refused before construction when it would exceed the particle budget.

    A particle whose config is overridden is built on torch's meta device first (no memory) and its parameters
    and buffers are counted. Whatever a constructor raises for sizes it cannot allocate becomes a ``ConfigError``
    naming the particle and the fields.
    """
    full_name = registry.info(name).full_name
    if config:
        _check_particle_size(registry, full_name, dict(config))
    try:
        return registry.create(full_name, **config)
    except SoraError:
        raise
    except _ALLOCATION_ERRORS as exc:
        raise construction_error(full_name, config, exc) from None


def create_on_meta(registry: Registry, name: str, config: Mapping[str, Any]) -> Particle:
    """``registry.create`` on torch's meta device, a constructor's failure turned into a ``ConfigError``."""
    import torch

    try:
        with torch.device("meta"):
            return registry.create(name, **config)
    except SoraError:
        raise
    except (*_ALLOCATION_ERRORS, NotImplementedError) as exc:
        raise construction_error(name, config, exc) from None


def construction_error(name: str, config: Mapping[str, Any], exc: BaseException) -> ConfigError:
    fields = ", ".join(f"{k}={_short(v)}" for k, v in config.items()) or "its default config"
    reason = _short(str(exc).splitlines()[0] if str(exc) else "", 160)
    return ConfigError(
        f"particle {name} cannot be built with {fields}: {type(exc).__name__}: {reason}",
        "use smaller sizes in its config (see `sora info " + name + "` for the defaults)",
    )


def _check_particle_size(registry: Registry, name: str, config: dict[str, Any]) -> None:
    limit = max_particle_bytes()
    size = _meta_bytes(registry, name, config)
    if size is None or size <= limit:
        return
    culprits = _fields_over(registry, name, config, limit) or sorted(config)
    raise ConfigError(
        f"particle {name}: {', '.join(f'{k}={_short(config[k])}' for k in culprits)} would need "
        f"{format_bytes(size)} of parameters, over the {format_bytes(limit)} limit on one particle",
        f"use a smaller {culprits[0]}, or raise the limit with {PARTICLE_BUDGET_VARIABLE} (e.g. 16G)",
    )


def _meta_bytes(registry: Registry, name: str, config: dict[str, Any]) -> int | None:
    """Bytes of ``name``'s parameters and buffers under ``config``; ``None`` when it cannot be built on meta."""
    import torch

    from sora_core.config import validate_config

    cls = registry.get_class(name)
    validated = validate_config(cls.Config, None, config, name)
    try:
        with torch.device("meta"):
            particle = cls(validated)  # the class itself: Registry.create would turn an overflow into an error
    except SoraError:
        raise
    except NotImplementedError:
        return None  # the constructor needs real data; the real construction is guarded by the caller
    except _ALLOCATION_ERRORS as exc:
        if is_allocation_failure(exc):
            return 2**63  # more elements than torch can index: certainly over any budget
        return None
    return _tensor_bytes(particle)


def is_allocation_failure(exc: BaseException) -> bool:
    """Whether ``exc`` says memory ran out or a size overflowed (not some other bug in a constructor)."""
    text = str(exc).lower()
    return isinstance(exc, (MemoryError, OverflowError)) or any(
        word in text for word in ("overflow", "too large", "numel", "out of memory", "can't allocate")
    )


def _tensor_bytes(particle: Any) -> int:
    import torch

    if not isinstance(particle, torch.nn.Module):
        return 0
    tensors = [*particle.parameters(), *particle.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


def _fields_over(registry: Registry, name: str, config: dict[str, Any], limit: int) -> list[str]:
    """The overridden fields that alone (over the default config) take the particle over ``limit``."""
    culprits = []
    for field, value in config.items():
        try:
            size = _meta_bytes(registry, name, {field: value})
        except SoraError:
            continue  # this field is only valid together with the others
        if size is not None and size > limit:
            culprits.append(field)
    return culprits


def _short(value: Any, width: int = 40) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."
