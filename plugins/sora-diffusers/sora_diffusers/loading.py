"""Building a library's module without initialising it, then filling it from memory-mapped safetensors.

Parameters are created on torch's meta device (their initialisers run on nothing), buffers that the module
computes itself (rotary tables) are made for real, and the stored tensors are then assigned in place: the
module's weights are the memory-mapped file's pages, so loading costs about the weights' size in memory and
no copy is made unless a dtype cast asks for one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from sora_core.errors import CorruptWeightsError, TensorMismatchError
from sora_core.safetensors_io import read_header

M = TypeVar("M", bound=nn.Module)


@contextmanager
def parameters_on_meta() -> Iterator[None]:
    """Inside, every parameter a module registers is put on the meta device (buffers stay real) and
    ``torch.nn.init``'s initialisers do nothing."""
    register = nn.Module.register_parameter

    def on_meta(module: nn.Module, name: str, param: nn.Parameter | None) -> None:
        register(module, name, param)
        if param is not None and not param.is_meta:
            module._parameters[name] = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)

    # initialisers would only write to meta tensors: skip them (they are slow Python even on meta)
    initialisers = {name: getattr(nn.init, name) for name in _INITIALISERS if hasattr(nn.init, name)}
    nn.Module.register_parameter = on_meta  # type: ignore[method-assign]
    for name in initialisers:
        setattr(nn.init, name, _keep)
    try:
        yield
    finally:
        nn.Module.register_parameter = register  # type: ignore[method-assign]
        for name, function in initialisers.items():
            setattr(nn.init, name, function)


_INITIALISERS = (
    "uniform_",
    "normal_",
    "trunc_normal_",
    "constant_",
    "ones_",
    "zeros_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "orthogonal_",
)


def _keep(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    return tensor


def build_empty(factory: Callable[[], M]) -> M:
    """``factory()`` with its parameters on the meta device: nothing is initialised or allocated for them."""
    with parameters_on_meta():
        return factory()


def _tie_groups(module: nn.Module) -> list[list[str]]:
    groups: dict[int, list[str]] = {}
    for name, tensor in module.named_parameters(remove_duplicate=False):
        groups.setdefault(id(tensor), []).append(name)
    return [names for names in groups.values() if len(names) > 1]


def load_into(
    module: nn.Module,
    files: list[Path],
    what: str,
    dtype: torch.dtype | None = None,
    keep_float32: Callable[[str], bool] = lambda name: False,
) -> None:
    """Assign ``module``'s parameters and persistent buffers from ``files`` (safetensors, memory-mapped).

    Floating tensors are cast to ``dtype`` (default: the module's own, float32), except those whose name
    ``keep_float32`` accepts (the library's own rule); a tensor already in that dtype is used in place, without
    a copy.

    Every stored tensor must match a tensor of the module by name and shape, and every tensor of the module
    must be stored (or tied to one that is, as T5's shared embedding); anything else is a
    ``TensorMismatchError`` naming ``what`` and the tensors.
    """
    from safetensors import SafetensorError, safe_open

    expected = module.state_dict(keep_vars=True)
    ties = _tie_groups(module)
    tied_to = {name: group for group in ties for name in group}
    headers = [read_header(path) for path in files]  # the layout is checked before any tensor is read
    stored: dict[str, Path] = {}
    for header in headers:
        for name in header.tensors:
            stored[name] = header.path
    unexpected = sorted(set(stored) - set(expected))
    missing = sorted(
        name for name in expected if name not in stored and not any(n in stored for n in tied_to.get(name, ()))
    )
    if unexpected or missing:
        raise TensorMismatchError(
            f"{what}: the weights do not fit the model its config describes"
            + (f"; unexpected tensors {unexpected[:5]}" if unexpected else "")
            + (f"; missing tensors {missing[:5]}" if missing else ""),
            "the config.json and the weights come from different models: re-download the component folder",
        )
    state: dict[str, torch.Tensor] = {}
    for header in headers:
        try:
            with safe_open(str(header.path), framework="pt", device="cpu") as file:
                for name in header.tensors:
                    tensor = file.get_tensor(name)
                    want = expected[name]
                    if tuple(tensor.shape) != tuple(want.shape):
                        raise TensorMismatchError(
                            f"{what}: tensor {name!r} in {header.path.name} has shape {tuple(tensor.shape)}, "
                            f"the model expects {tuple(want.shape)}",
                            "the config.json and the weights come from different models",
                        )
                    if want.is_floating_point():
                        keep = dtype is not None and keep_float32(name)
                        target = torch.float32 if keep or (dtype is None and want.dtype == torch.float32) else dtype
                        target = target or want.dtype
                        if tensor.dtype != target:
                            tensor = tensor.to(target)
                    state[name] = tensor
        except (SafetensorError, OSError, RuntimeError, ValueError) as exc:
            if isinstance(exc, TensorMismatchError):
                raise
            raise CorruptWeightsError(f"{header.path} cannot be read as safetensors: {exc}", "re-download it") from exc
    for group in ties:  # a tied tensor stored once under one of its names
        present = next((n for n in group if n in state), None)
        if present is not None:
            for name in group:
                state.setdefault(name, state[present])
    module.load_state_dict(state, strict=False, assign=True)
    for group in ties:
        first, *others = group
        owner, _, attr = first.rpartition(".")
        tensor = getattr(module.get_submodule(owner), attr)
        for alias in others:
            owner, _, attr = alias.rpartition(".")
            setattr(module.get_submodule(owner), attr, tensor)
    left = [n for n, t in module.named_parameters() if t.is_meta] + [n for n, t in module.named_buffers() if t.is_meta]
    if left:
        raise TensorMismatchError(f"{what}: tensors {left[:5]} were not loaded", "re-download the component folder")


def place(module: nn.Module, device: Any) -> None:
    """Move ``module`` to ``device`` (when given) and put it in evaluation mode."""
    if device is not None:
        module.to(device)
    module.eval()
