"""Example inputs built from port specs, and checking values against declared shapes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from sora_core.particle import Particle
from sora_core.ports import DTYPE_FAMILIES, PortSpec
from sora_core.shapes import Dim, format_shape

_INT_HIGH = 8
_FREE_SIZES = (3, 4, 5, 6, 7, 8)
_TEXTS = ("a red fox runs through fresh snow", "waves at sunset", "a city street at night", "a cat on a piano")


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: its name, whether it passed, and what was seen."""

    name: str
    passed: bool
    detail: str = ""

    def __str__(self) -> str:
        return f"{'ok' if self.passed else 'FAIL'} {self.name}: {self.detail}"


class Failed(Exception):
    """Raised by a check to fail with ``detail`` (any other exception fails it too)."""


# --- example inputs and shape bindings --------------------------------------------------------------------------


class Bindings:
    """Sizes bound to the symbols of one particle's ports, with where each came from."""

    def __init__(self) -> None:
        self.sizes: dict[str, tuple[int, str]] = {}

    def copy(self) -> Bindings:
        other = Bindings()
        other.sizes = dict(self.sizes)
        return other

    def size(self, symbol: str) -> int | None:
        found = self.sizes.get(symbol)
        return found[0] if found else None

    def bind(self, symbol: str, size: int, origin: str) -> str | None:
        known = self.sizes.get(symbol)
        if known is None:
            self.sizes[symbol] = (size, origin)
            return None
        if known[0] != size:
            return f"{symbol} is {size} but {known[0]} from {known[1]}"
        return None

    def free_size(self) -> int:
        used = {size for size, _ in self.sizes.values()}
        return next((s for s in _FREE_SIZES if s not in used), max(used | {_FREE_SIZES[-1]}) + 1)

    def match(self, where: str, dims: tuple[Dim, ...], shape: tuple[int, ...]) -> list[str]:
        """Check a concrete ``shape`` against declared ``dims``, binding new symbols; explain mismatches."""
        declared = format_shape(dims)
        variadic = next((i for i, d in enumerate(dims) if d.variadic), None)
        if variadic is None:
            if len(shape) != len(dims):
                return [f"{where} has shape {tuple(shape)}, rank {len(shape)}; declared '{declared}'"]
            pairs = list(enumerate(zip(dims, shape, strict=True)))
        else:
            head, tail = dims[:variadic], dims[variadic + 1 :]
            if len(shape) < len(head) + len(tail):
                return [f"{where} has shape {tuple(shape)}, too few dimensions for '{declared}'"]
            pairs = list(enumerate(zip(head, shape[: len(head)], strict=True)))
            offset = len(shape) - len(tail)
            pairs += [(offset + i, (d, shape[offset + i])) for i, d in enumerate(tail)]
        problems = []
        for index, (dim, size) in pairs:
            label = f"dimension {index}" + (f" ({dim.symbol})" if dim.symbol else "")
            if dim.size is not None and size != dim.size:
                problems.append(f"{where} has shape {tuple(shape)}: {label} is {size}, declared {dim}")
            elif dim.symbol:
                clash = self.bind(dim.symbol, size, where)
                if clash:
                    problems.append(f"{where} has shape {tuple(shape)}: {label}: {clash}")
        return problems


def _declared_sizes(ports: Mapping[str, PortSpec], where: str, bindings: Bindings) -> list[str]:
    problems = []
    for name, spec in ports.items():
        for dim in spec.dims:
            if dim.symbol and dim.size is not None:
                clash = bindings.bind(dim.symbol, dim.size, f"the declaration of {where} {name!r}")
                if clash:
                    problems.append(f"{where} {name!r} declares {dim}, but {clash}")
    return problems


def _shape_for(dims: tuple[Dim, ...], bindings: Bindings, where: str) -> tuple[int, ...]:
    shape = []
    for dim in dims:
        if dim.variadic:
            continue
        if dim.size is not None:
            shape.append(dim.size)
        elif dim.symbol:
            if bindings.size(dim.symbol) is None:
                bindings.bind(dim.symbol, bindings.free_size(), f"the example inputs ({where})")
            shape.append(bindings.size(dim.symbol) or 0)
        else:
            shape.append(_FREE_SIZES[0])
    return tuple(shape)


def _torch_dtype(dtype: str) -> torch.dtype:
    concrete = {"float": "float32", "int": "int64"}.get(dtype, dtype)
    return getattr(torch, concrete)


def _example_value(name: str, spec: PortSpec, shape: tuple[int, ...], batch: int, generator: torch.Generator) -> Any:
    if spec.dtype == "float" or spec.dtype in DTYPE_FAMILIES["float"]:
        return torch.randn(shape, generator=generator).to(_torch_dtype(spec.dtype))
    if spec.dtype == "int" or spec.dtype in DTYPE_FAMILIES["int"]:
        return torch.randint(0, _INT_HIGH, shape, generator=generator, dtype=_torch_dtype(spec.dtype))
    if spec.dtype == "bool":
        return torch.ones(shape, dtype=torch.bool)
    if spec.dtype == "str":
        count = shape[0] if shape else batch
        return [_TEXTS[i % len(_TEXTS)] for i in range(count)]
    raise ValueError(
        f"cannot build an example for input {name!r} of dtype {spec.dtype!r}; "
        "define a classmethod example_inputs(config, batch, generator) on the particle"
    )


def _value_shape(value: Any) -> tuple[int, ...] | None:
    if isinstance(value, torch.Tensor):
        return tuple(value.shape)
    if isinstance(value, list):
        return (len(value),)
    return None


def make_example_inputs(
    particle: Particle,
    *,
    batch: int = 2,
    seed: int = 0,
    sizes: Mapping[str, int] | None = None,
    optional: bool = True,
) -> dict[str, Any]:
    """Random inputs for every input port of ``particle`` (optional ones too unless ``optional=False``).

    Raises ``ValueError`` explaining why no consistent inputs could be built.
    """
    inputs, _ = make_inputs(particle, batch=batch, seed=seed, sizes=sizes)
    ports = particle.input_ports()
    return {k: v for k, v in inputs.items() if optional or not ports[k].optional}


def make_inputs(
    particle: Particle, *, batch: int, seed: int, sizes: Mapping[str, int] | None
) -> tuple[dict[str, Any], Bindings]:
    ports = particle.input_ports()
    bindings = Bindings()
    problems = _declared_sizes(ports, "input", bindings)
    problems += _declared_sizes(particle.output_ports(), "output", bindings)
    for symbol, size in {"B": batch, **(sizes or {})}.items():
        clash = bindings.bind(symbol, size, f"sizes[{symbol!r}]")
        if clash:
            problems.append(f"the requested size {clash}")
    generator = torch.Generator().manual_seed(seed)
    provided = _provided_inputs(particle, batch, generator)
    for name, value in provided.items():
        if name not in ports:
            problems.append(f"example_inputs returned {name!r}, which is not an input port")
            continue
        shape = _value_shape(value)
        if shape is not None:
            problems += bindings.match(f"example input {name!r}", ports[name].dims, shape)
    if problems:
        raise ValueError("; ".join(problems))
    inputs = dict(provided)
    for name, spec in ports.items():
        if name in inputs or (spec.optional and spec.dtype == "any"):
            continue
        inputs[name] = _example_value(name, spec, _shape_for(spec.dims, bindings, name), batch, generator)
    return inputs, bindings


def _provided_inputs(particle: Particle, batch: int, generator: torch.Generator) -> dict[str, Any]:
    hook: Callable[..., Any] | None = getattr(type(particle), "example_inputs", None)
    if hook is None:
        return {}
    provided = hook(particle.config, batch, generator)
    if not isinstance(provided, Mapping):
        raise ValueError(f"example_inputs returned a {type(provided).__name__}, expected a dict keyed by input port")
    return dict(provided)


# --- comparing values -------------------------------------------------------------------------------------------


def describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"{str(value.dtype).removeprefix('torch.')}{tuple(value.shape)}"
    if isinstance(value, list):
        return f"list[{len(value)}]"
    return type(value).__name__


def clone_values(values: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: v.clone() if isinstance(v, torch.Tensor) else (list(v) if isinstance(v, list) else v)
        for k, v in values.items()
    }


def differences(first: Mapping[str, Any], second: Mapping[str, Any], what: str = "output") -> list[str]:
    """Every way two dicts of values differ (tensors must be bit-identical)."""
    found = [f"{what} {k!r} is present only once" for k in sorted(set(first) ^ set(second))]
    for key in sorted(set(first) & set(second)):
        a, b = first[key], second[key]
        if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
            if a.dtype != b.dtype or a.shape != b.shape:
                found.append(f"{what} {key!r} is {describe(a)} vs {describe(b)}")
            elif not torch.equal(a, b):
                delta = (a.double() - b.double()).abs().max().item() if a.is_floating_point() else "n/a"
                found.append(f"{what} {key!r} differs (max abs difference {delta})")
        elif type(a) is not type(b) or a != b:
            found.append(f"{what} {key!r} differs: {describe(a)} vs {describe(b)}")
    return found


def state_of(particle: Particle) -> dict[str, torch.Tensor]:
    return dict(particle.state_dict()) if isinstance(particle, torch.nn.Module) else {}


def _dtype_ok(declared: str, actual: torch.dtype) -> bool:
    name = str(actual).removeprefix("torch.")
    return name in DTYPE_FAMILIES.get(declared, frozenset({declared}))


def output_problems(outputs: Any, ports: Mapping[str, PortSpec], bindings: Bindings) -> list[str]:
    if not isinstance(outputs, Mapping):
        return [f"forward returned a {type(outputs).__name__}, expected a dict keyed by output port"]
    problems = [f"output {k!r} is not a declared output port" for k in sorted(set(outputs) - set(ports))]
    for name, spec in ports.items():
        if name not in outputs:
            if not spec.optional:
                problems.append(f"declared output {name!r} is missing")
            continue
        problems += _value_problems(f"output {name!r}", outputs[name], spec, bindings)
    return problems


def _value_problems(where: str, value: Any, spec: PortSpec, bindings: Bindings) -> list[str]:
    if spec.dtype == "any":
        return []
    if spec.dtype == "str":
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            return [f"{where} is {describe(value)}, declared a list of str"]
        return bindings.match(where, spec.dims[:1], (len(value),)) if spec.dims else []
    if not isinstance(value, torch.Tensor):
        return [f"{where} is a {type(value).__name__}, declared a {spec.dtype} tensor"]
    problems = []
    if not _dtype_ok(spec.dtype, value.dtype):
        problems.append(f"{where} has dtype {str(value.dtype).removeprefix('torch.')}, declared {spec.dtype}")
    problems += bindings.match(where, spec.dims, tuple(value.shape))
    if value.is_floating_point() and not bool(torch.isfinite(value).all()):
        problems.append(f"{where} has NaN or infinite values")
    return problems
