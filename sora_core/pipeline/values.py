"""Pipeline input values written on a command line, and tensor outputs saved to files.

``--input NAME=VALUE`` accepts:

* ``randn:16,10,512`` / ``rand:...`` / ``zeros:...`` / ``ones:...``: a new float32 tensor;
* ``FILE.safetensors`` or ``FILE.safetensors:TENSOR``: a tensor from a safetensors file;
* ``CLIP.mp4``, ``CLIP.gif`` or a folder of ``.png``/``.jpg`` frames: a video ``(1, 3, T, H, W)`` in
  ``[-1, 1]`` (for a ``float`` port);
* JSON (``[[1, 2], [3, 4]]``, ``3.5``, ``true``): a tensor of the port's dtype;
* anything else: text (a ``str`` port gets a one-item list).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from sora_core.atomic import atomic_path
from sora_core.errors import PortError

_FACTORIES = {"randn": torch.randn, "rand": torch.rand, "zeros": torch.zeros, "ones": torch.ones}


def parse_value(name: str, text: str, spec: dict[str, Any], generator: torch.Generator | None = None) -> Any:
    """Turn ``text`` into a value for pipeline input ``name`` whose port spec is ``spec``."""
    dtype = spec.get("dtype", "any")
    kind, sep, rest = text.partition(":")
    if sep and kind in _FACTORIES:
        return _factory(name, kind, rest, generator)
    path, is_file, tensor_name = text.partition(".safetensors")
    if is_file:
        return _from_safetensors(name, Path(path + ".safetensors"), tensor_name.removeprefix(":"))
    if dtype == "str":
        return [text]
    if text.lower().endswith(VIDEO_FILE_SUFFIXES) or Path(text).is_dir():
        return _from_video(name, Path(text))
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise PortError(
            f"input {name!r}: {text!r} is not a tensor value for a {dtype}[{spec.get('shape', '')}] port",
            "write randn:16,10,512 (or zeros/ones/rand), FILE.safetensors[:TENSOR], or a JSON number/list",
        ) from None
    torch_dtype = getattr(torch, dtype, None) if dtype not in ("float", "int", "any") else None
    if dtype == "float":
        torch_dtype = torch.float32
    if dtype == "int":
        torch_dtype = torch.int64
    return torch.tensor(data, dtype=torch_dtype)


#: File names ``--input`` reads as a video (a folder of frames is read too).
VIDEO_FILE_SUFFIXES = (".mp4", ".gif")


def _from_video(name: str, path: Path) -> torch.Tensor:
    from sora_core.video_io import VideoError, read_video, to_video

    try:
        return to_video(read_video(path))[None]
    except VideoError as error:
        raise PortError(f"input {name!r}: {error.message}", error.hint) from None


def _factory(name: str, kind: str, sizes: str, generator: torch.Generator | None) -> torch.Tensor:
    try:
        shape = [int(s) for s in sizes.replace("x", ",").split(",") if s.strip()]
    except ValueError:
        raise PortError(f"input {name!r}: {kind}:{sizes} needs sizes like {kind}:16,10,512", None) from None
    if kind in ("randn", "rand"):
        return _FACTORIES[kind](*shape, generator=generator)
    return _FACTORIES[kind](*shape)


def _from_safetensors(name: str, path: Path, tensor: str) -> torch.Tensor:
    from safetensors import safe_open

    from sora_core.safetensors_io import read_header

    if not path.is_file():
        raise PortError(f"input {name!r}: {path} does not exist", "give an existing .safetensors file")
    header = read_header(path)  # refuses truncated or non-safetensors files with a clear error
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
    with safe_open(str(path), framework="pt") as handle:
        return handle.get_tensor(tensor)


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
