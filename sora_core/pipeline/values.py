"""Pipeline input values written on a command line, and tensor outputs saved to files.

``--input NAME=VALUE`` accepts:

* ``randn:16,10,512`` / ``rand:...`` / ``zeros:...`` / ``ones:...``: a new float32 tensor;
* ``FILE.safetensors`` or ``FILE.safetensors:TENSOR``: a tensor from a safetensors file;
* ``CLIP.mp4``, ``CLIP.gif`` or a folder of ``.png``/``.jpg`` frames: a video ``(1, 3, T, H, W)`` in
  ``[-1, 1]`` (for a ``float`` port);
* JSON (``[[1, 2], [3, 4]]``, ``3.5``, ``true``): a tensor of the port's dtype;
* for a ``str`` port, a JSON list of strings (``["a red ball", "a blue cube"]``): a batch of texts;
* anything else: text (a ``str`` port gets a one-item list).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from sora_core.atomic import atomic_path
from sora_core.errors import PortError, WeightsError
from sora_core.limits import check_input_size

_FACTORIES = {"randn": torch.randn, "rand": torch.rand, "zeros": torch.zeros, "ones": torch.ones}


def parse_value(name: str, text: str, spec: dict[str, Any], generator: torch.Generator | None = None) -> Any:
    """Turn ``text`` into a value for pipeline input ``name`` whose port spec is ``spec``.

    Anything the port cannot take is a ``SoraError`` naming the input and what its port expects; a tensor
    larger than the input budget (:func:`sora_core.limits.max_input_bytes`) is refused before it is allocated.
    """
    kind, sep, rest = text.partition(":")
    if sep and kind in _FACTORIES:
        return _factory(name, kind, rest, spec, generator)
    path, is_file, tensor_name = text.partition(".safetensors")
    if is_file:
        return _from_safetensors(name, Path(path + ".safetensors"), tensor_name.removeprefix(":"), spec)
    if spec.get("dtype", "any") != "str" and (text.lower().endswith(VIDEO_FILE_SUFFIXES) or _is_dir(text)):
        return _from_video(name, Path(text))
    return parse_typed_value(name, text, spec, generator)


def parse_typed_value(name: str, text: str, spec: dict[str, Any], generator: torch.Generator | None = None) -> Any:
    """Like :func:`parse_value`, but reading no file: text for a ``str`` port, else ``randn:...``-style
    factories or JSON (what a form typed into a served page may send)."""
    kind, sep, rest = text.partition(":")
    if spec.get("dtype", "any") == "str":
        return _texts(name, text, spec)
    if sep and kind in _FACTORIES:
        return _factory(name, kind, rest, spec, generator)
    return _from_json(name, text, spec)


def video_value(name: str, path: str | os.PathLike[str]) -> Any:
    """The clip at ``path`` (``.mp4``, ``.gif`` or a folder of frames) as input ``name``: ``(1, 3, T, H, W)``."""
    return _from_video(name, Path(path))


def _texts(name: str, text: str, spec: dict[str, Any]) -> list[str]:
    """A ``str`` port's batch: a JSON list of strings as it is, any other text as a one-item list."""
    if not text.lstrip().startswith("["):
        return [text]
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return [text]  # text that only starts with a bracket ("[draft] a red ball")
    hint = 'write one text, or a JSON list of texts: --input \'prompt=["a red ball", "a blue cube"]\''
    if not data:  # text starting with '[' that parses is a JSON list
        raise PortError(f"input {name!r}: {_shown(text)} is an empty list; the port expects {_expects(spec)}", hint)
    wrong = next((item for item in data if not isinstance(item, str)), None)
    if any(not isinstance(item, str) for item in data):
        raise PortError(
            f"input {name!r}: {_shown(text)} holds {json.dumps(wrong)[:40]}, not text; the port expects "
            f"{_expects(spec)}",
            hint,
        )
    return data


def _is_dir(text: str) -> bool:
    try:
        return Path(text).is_dir()
    except (OSError, ValueError):  # a name too long (or with a NUL byte) is no folder of frames
        return False


def _expects(spec: dict[str, Any]) -> str:
    return f"{spec.get('dtype', 'any')}[{spec.get('shape', '')}]"


def _check_shape(name: str, where: str, shape: tuple[int, ...], spec: dict[str, Any]) -> None:
    """Refuse a value whose rank or fixed sizes (``E=512``) do not fit the port's shape."""
    from sora_core.shapes import parse_shape

    try:
        dims = parse_shape(str(spec.get("shape") or ""))
    except PortError:
        return  # the particle's own declaration is checked elsewhere
    if not dims:
        return
    variadic = any(d.variadic for d in dims)
    fixed = [d for d in dims if not d.variadic]
    fits = len(shape) >= len(fixed) if variadic else len(shape) == len(fixed)
    if fits and not variadic:
        fits = all(d.size is None or d.size == size for d, size in zip(fixed, shape, strict=True))
    if not fits:
        raise PortError(
            f"input {name!r}: {where} has shape {list(shape)}; the port expects {_expects(spec)}",
            "give a value with that many dimensions (and the fixed sizes, such as E=512)",
        )


def _shown(text: str, width: int = 40) -> str:
    return repr(text) if len(text) <= width else repr(text[: width - 3]) + "..."


_TENSOR_FORMS = "write randn:16,10,512 (or zeros/ones/rand), FILE.safetensors[:TENSOR], or a JSON number/list"


def _from_json(name: str, text: str, spec: dict[str, Any]) -> torch.Tensor:
    """A JSON number, boolean or (rectangular) nested list, as a tensor of the port's dtype."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # json.JSONDecodeError is a ValueError
        raise PortError(
            f"input {name!r}: {_shown(text)} is not a value for a port expecting {_expects(spec)}", _TENSOR_FORMS
        ) from None
    problem = _json_problem(data)
    if problem is None:
        try:
            tensor = torch.tensor(data)
        except (ValueError, TypeError, RuntimeError, OverflowError) as exc:
            problem = _torch_problem(exc)
    if problem is not None:
        raise PortError(
            f"input {name!r}: {_shown(text)} is {problem}; the port expects {_expects(spec)}", _TENSOR_FORMS
        )
    _check_shape(name, _shown(text), tuple(tensor.shape), spec)
    return _as_port_dtype(name, text, tensor, spec)


def _json_problem(data: Any) -> str | None:
    """Why JSON ``data`` cannot be a tensor (a string, an object, null), or ``None``."""
    if isinstance(data, str):
        return "text"
    if isinstance(data, dict):
        return "a JSON object"
    return "null" if data is None else None


def _torch_problem(exc: BaseException) -> str:
    text = str(exc)
    if "expected sequence of length" in text or "sequence" in text:
        return "a ragged list (rows of different lengths)"
    if "Overflow" in text or isinstance(exc, OverflowError):
        return "a number too large for a tensor"
    return "not a rectangular list of numbers"


def _as_port_dtype(name: str, text: str, tensor: torch.Tensor, spec: dict[str, Any]) -> torch.Tensor:
    dtype = spec.get("dtype", "any")
    wanted = {"float": torch.float32, "int": torch.int64}.get(dtype) or getattr(torch, str(dtype), None)
    if not isinstance(wanted, torch.dtype):
        return tensor  # "any", or a dtype family the port checks itself
    if tensor.is_floating_point() and not wanted.is_floating_point and not wanted.is_complex:
        raise PortError(
            f"input {name!r}: {_shown(text)} holds fractional numbers; the port expects {_expects(spec)}",
            "write whole numbers" + (" (or true/false)" if wanted == torch.bool else ""),
        )
    if wanted == torch.bool and tensor.dtype != torch.bool and bool(((tensor != 0) & (tensor != 1)).any()):
        raise PortError(
            f"input {name!r}: {_shown(text)} holds numbers other than 0 and 1; the port expects {_expects(spec)}",
            "write true/false (or 1/0)",
        )
    try:
        return tensor.to(wanted)
    except (RuntimeError, TypeError) as exc:
        raise PortError(
            f"input {name!r}: {_shown(text)} cannot become {_expects(spec)}: {exc}", _TENSOR_FORMS
        ) from None


#: File names ``--input`` reads as a video (a folder of frames is read too).
VIDEO_FILE_SUFFIXES = (".mp4", ".gif")


def _from_video(name: str, path: Path) -> torch.Tensor:
    from sora_core.video_io import VideoError, read_video, to_video

    try:
        return to_video(read_video(path))[None]
    except VideoError as error:
        raise PortError(f"input {name!r}: {error.message}", error.hint) from None


def _factory(name: str, kind: str, sizes: str, spec: dict[str, Any], generator: torch.Generator | None) -> torch.Tensor:
    shape = _shape(name, kind, sizes)
    check_input_size(f"input {name!r}: {kind}:{sizes}", shape, torch.float32.itemsize)
    _check_shape(name, f"{kind}:{sizes}", tuple(shape), spec)
    if kind in ("randn", "rand"):
        return _FACTORIES[kind](*shape, generator=generator)
    return _FACTORIES[kind](*shape)


#: The most dimensions a ``randn:``/``zeros:`` input may have (torch itself allows 64).
MAX_DIMENSIONS = 16


def _shape(name: str, kind: str, sizes: str) -> list[int]:
    """``"16,10,512"`` (or ``"16x10x512"``) as sizes; each a whole number, at least one, at most 16 of them."""
    parts = [s.strip() for s in sizes.replace("x", ",").split(",")]
    hint = f"write {kind}:16,10,512: up to {MAX_DIMENSIONS} sizes, each a whole number from 0 up"
    if not sizes.strip() or not all(p.isascii() and p.isdigit() for p in parts):
        raise PortError(f"input {name!r}: {kind}:{_shown(sizes)[1:-1]} needs sizes like {kind}:16,10,512", hint)
    if len(parts) > MAX_DIMENSIONS:
        raise PortError(f"input {name!r}: {kind}: has {len(parts)} sizes, more than {MAX_DIMENSIONS}", hint)
    return [int(p) for p in parts]


def _from_safetensors(name: str, path: Path, tensor: str, spec: dict[str, Any]) -> torch.Tensor:
    """One tensor of a safetensors file; its header is checked (offsets inside the file, no overlaps) first."""
    from safetensors import SafetensorError, safe_open

    from sora_core.safetensors_io import read_header

    if not _is_file(path):
        raise PortError(f"input {name!r}: {path} does not exist", "give an existing .safetensors file")
    try:
        header = read_header(path)  # refuses truncated, overlapping or non-safetensors files with a clear error
    except WeightsError as exc:
        raise type(exc)(f"input {name!r}: {exc.message}", exc.hint) from None
    except OSError as exc:
        raise PortError(f"input {name!r}: cannot read {path}: {exc.strerror or exc}", "check the file") from None
    names = sorted(header.tensors)
    if not tensor:
        if len(names) != 1:
            raise PortError(
                f"input {name!r}: {path} holds {len(names)} tensors ({', '.join(names)})",
                f"name one: {path}:{names[0] if names else 'TENSOR'}",
            )
        tensor = names[0]
    if tensor not in header.tensors:
        raise PortError(f"input {name!r}: {path} has no tensor {tensor!r}", "it holds " + ", ".join(names))
    _check_stored_size(name, path, tensor, header.tensors[tensor])
    _check_shape(name, f"tensor {tensor!r} of {path}", tuple(header.tensors[tensor].shape), spec)
    try:
        with safe_open(str(path), framework="pt") as handle:
            return handle.get_tensor(tensor)
    except (SafetensorError, OSError, RuntimeError, ValueError) as exc:
        raise PortError(f"input {name!r}: cannot read tensor {tensor!r} of {path}: {exc}", "check the file") from None


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _check_stored_size(name: str, path: Path, tensor: str, info: Any) -> None:
    item_size = getattr(getattr(torch, str(info.dtype).lower(), None), "itemsize", 1)
    check_input_size(f"input {name!r}: tensor {tensor!r} of {path}", tuple(info.shape), item_size)


def save_outputs(outputs: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Save every tensor output to one safetensors file, atomically (temp name, then rename)."""
    from safetensors.torch import save_file

    target = Path(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in outputs.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise PortError("the pipeline produced no tensor outputs to save", "drop --output")
    with atomic_path(target, suffix=".safetensors") as temporary:
        save_file(tensors, str(temporary))
    return target


def describe_value(value: Any) -> dict[str, Any]:
    """dtype, shape and summary statistics of an output, for printing."""
    if isinstance(value, torch.Tensor):
        info: dict[str, Any] = {"dtype": str(value.dtype).removeprefix("torch."), "shape": list(value.shape)}
        if value.is_floating_point() and value.numel():
            data = value.detach().float()
            info.update(mean=round(data.mean().item(), 6), std=round(data.std().item(), 6) if data.numel() > 1 else 0.0)
        elif value.numel() <= 16:  # counts, indices, flags: small enough to read whole
            info["value"] = value.tolist()
        return info
    return {"type": type(value).__name__, "value": repr(value)[:200]}
