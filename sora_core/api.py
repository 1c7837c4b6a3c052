"""The one-call Python API: ``sora_core.generate``, ``load_video``, ``caption``, ``ask`` and ``summarize``.

``sora generate``, ``sora caption``, ``sora ask`` and ``sora summarize`` are argument parsers over these
functions: the same options build the same pipeline and the same seed makes the same video.

This module imports neither torch nor numpy when it is imported (``import sora_core`` stays light); each
function imports the pipeline machinery when it is called.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sora_core.errors import ConfigError, SoraError, SoraWarning

if TYPE_CHECKING:
    import numpy as np
    import torch

__all__ = [
    "GENERATE_OPTIONS",
    "StrictWarningError",
    "Summary",
    "Video",
    "VideoGenerator",
    "ask",
    "caption",
    "generate",
    "generate_all",
    "load_video",
    "summarize",
]

#: The options of :func:`generate` that set one config field of a text-to-video template's node, as
#: ``option: (node, field)``; ``settings`` reaches any field. ``sora generate`` has one flag for each.
GENERATE_OPTIONS: dict[str, tuple[str, str]] = {
    "frames": ("sampler", "frames"),
    "height": ("sampler", "height"),
    "width": ("sampler", "width"),
    "guidance": ("sampler", "guidance_scale"),
    "candidates": ("sampler", "candidates"),
    "steps": ("scheduler", "steps"),
    "negative_prompt": ("prompts", "negative_prompt"),
    "rewrite": ("rewriter", "enabled"),
    "allow_unknown": ("rewriter", "allow_unknown"),
}

#: Frames per second of a video that was not given another rate.
DEFAULT_FPS = 8.0


class StrictWarningError(SoraError):
    """A :class:`~sora_core.errors.SoraWarning` raised while ``strict=True`` (``--strict``): the result is refused."""


class _Names:
    """How messages name an option: ``guidance=`` for Python callers, ``--guidance`` for the command line."""

    def __init__(self, cli: bool) -> None:
        self.cli = cli

    def __call__(self, option: str) -> str:
        return "--" + option.replace("_", "-") if self.cli else option

    def value(self, option: str, value: Any) -> str:
        return f"--{option.replace('_', '-')} {value}" if self.cli else f"{option}={value!r}"

    @property
    def strict(self) -> str:
        return "drop --strict" if self.cli else "pass strict=False"


_API = _Names(cli=False)
_CLI = _Names(cli=True)


# --- videos ----------------------------------------------------------------------------------------------


class Video:
    """One video: ``frames`` ``(T, H, W, 3)`` ``uint8`` and ``tensor`` ``(3, T, H, W)`` float32 in ``[-1, 1]``.

    Made by :func:`generate` (with its ``prompt``, ``seed``, the ``warnings`` of the run and the pipeline's
    other ``outputs``) or read by :func:`load_video` (with its ``path``). Either array may be given to the
    constructor; the other is computed on first use. A video is a snapshot: ``frames`` is read-only, and
    changing ``tensor`` in place after reading ``frames`` is not seen by them.
    """

    def __init__(
        self,
        data: Any,
        *,
        fps: float = DEFAULT_FPS,
        prompt: str | None = None,
        seed: int | None = None,
        path: str | os.PathLike[str] | None = None,
        warnings: Sequence[str] = (),
        outputs: Mapping[str, Any] | None = None,
        rewrite: Mapping[str, Any] | None = None,
    ) -> None:
        from sora_core.video_io import VideoError, check_fps

        self._frames: np.ndarray | None = None
        self._tensor: torch.Tensor | None = None
        if hasattr(data, "detach"):  # a tensor: (3, T, H, W) or a batch of one, float in [-1, 1]
            tensor = data.detach()
            if tensor.ndim == 5 and tensor.shape[0] == 1:
                tensor = tensor[0]
            if tensor.ndim != 4 or tensor.shape[0] not in (1, 3) or not tensor.is_floating_point():
                raise VideoError(
                    f"a Video's tensor is float (3, T, H, W) in [-1, 1], got {str(tensor.dtype).removeprefix('torch.')}"
                    f" {tuple(tensor.shape)}",
                    "pass uint8 frames (T, H, W, 3), or a float tensor (3, T, H, W)",
                )
            if tensor.shape[0] == 1:
                tensor = tensor.expand(3, *tensor.shape[1:])
            self._tensor = tensor.to("cpu", dtype=_float32()).contiguous()
        else:
            import numpy as np

            frames = np.asarray(data)
            if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or frames.shape[0] < 1:
                raise VideoError(
                    f"a Video's frames are uint8 (T, H, W, 3) with T >= 1, got {frames.dtype} {tuple(frames.shape)}",
                    "convert a float video with sora_core.video_io.to_frames, or pass a (3, T, H, W) tensor",
                )
            self._frames = frames
        self.fps = check_fps(fps, flag="fps")
        self.prompt = prompt
        self.seed = seed
        self.path = None if path is None else Path(path)
        #: The prompt rewriter's report (``rewritten``: the text the generator got; ``read``, ``unplaced``)
        self.rewrite = dict(rewrite) if rewrite is not None else None
        #: The messages of the SoraWarnings raised while the video was made (each also raised as a Python warning).
        self.warnings: list[str] = list(warnings)
        #: The pipeline's other outputs by name (a template may have more than ``video``), batch of one.
        self.outputs: dict[str, Any] = dict(outputs or {})

    @property
    def frames(self) -> np.ndarray:
        """``(T, H, W, 3)`` ``uint8``, read-only (``.copy()`` it to change it)."""
        if self._frames is None:
            from sora_core.video_io import to_frames

            self._frames = to_frames(self._tensor)
        return _read_only(self._frames)

    def _writable_frames(self) -> np.ndarray:
        """The frames themselves (torch refuses read-only arrays quietly only once): not to be changed."""
        self.frames  # noqa: B018 - computes them once
        return self._frames  # type: ignore[return-value]

    @property
    def tensor(self) -> torch.Tensor:
        """``(3, T, H, W)`` float32 in ``[-1, 1]`` on the CPU; add a batch axis (``video.tensor[None]``) to feed a
        pipeline."""
        if self._tensor is None:
            from sora_core.video_io import to_video

            self._tensor = to_video(self._frames)
        return self._tensor

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(frames, height, width)``."""
        source = self._frames.shape[:3] if self._frames is not None else self._tensor.shape[1:]
        return tuple(int(n) for n in source)  # type: ignore[return-value]

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        count, height, width = self.shape
        origin = f", prompt={self.prompt!r}, seed={self.seed}" if self.prompt is not None else ""
        origin += f", path={str(self.path)!r}" if self.path is not None else ""
        return f"Video({count} frames of {width}x{height}{origin})"

    def save(self, path: str | os.PathLike[str], *, fps: float | None = None, scale: int = 1) -> Path:
        """Write the video as ``.mp4`` (H.264) or ``.gif``, atomically: a failed write leaves no file and an
        existing file untouched. ``scale`` enlarges each pixel into a ``scale`` x ``scale`` block."""
        return self._save(path, fps=fps, scale=scale, names=_API)

    def _save(self, path: str | os.PathLike[str], *, fps: float | None, scale: int, names: _Names) -> Path:
        from sora_core.cli.paths import check_output_path
        from sora_core.video_io import VIDEO_SUFFIXES, check_fps, write_video

        target = check_output_path(path, "Video.save", VIDEO_SUFFIXES, what="video") if not names.cli else path
        rate = check_fps(self.fps if fps is None else fps, flag=names("fps"))
        return write_video(self._scaled(scale, names), target, fps=rate)

    def save_contact_sheet(self, path: str | os.PathLike[str], *, scale: int = 1, columns: int | None = None) -> Path:
        """Write every frame tiled into one PNG (``columns`` per row, default close to square), atomically."""
        return self._save_contact_sheet(path, scale=scale, columns=columns, names=_API)

    def _save_contact_sheet(self, path: Any, *, scale: int, columns: int | None, names: _Names) -> Path:
        from sora_core.cli.paths import check_output_path
        from sora_core.video_io import write_contact_sheet

        target = check_output_path(path, "Video.save_contact_sheet", (".png",), what="image") if not names.cli else path
        return write_contact_sheet(self._scaled(scale, names), target, columns=columns)

    def save_outputs(self, path: str | os.PathLike[str]) -> Path:
        """Write :attr:`outputs` to one ``.safetensors`` file, atomically: tensors as tensors, every other value
        (text) as JSON in the file's metadata under its name."""
        from sora_core.cli.paths import check_output_path

        return _write_outputs(self.outputs, check_output_path(path, "Video.save_outputs", (".safetensors",)))

    def _scaled(self, scale: int, names: _Names) -> np.ndarray:
        from sora_core.video_io import check_scale

        frames = self.frames
        if scale == 1 and not isinstance(scale, bool):
            return frames
        check_scale(scale, *self.shape, flag=names("scale"))
        return frames.repeat(scale, axis=1).repeat(scale, axis=2)


def load_video(path: str | os.PathLike[str], *, fps: float = DEFAULT_FPS) -> Video:
    """The clip at ``path`` (``.mp4``, ``.gif``, or a folder of ``.png``/``.jpg`` frames) as a :class:`Video`.

    Refused with a :class:`~sora_core.video_io.VideoError` naming the file when it is missing, damaged or over
    ``SORA_MAX_VIDEO_PIXELS`` (checked from its metadata before a frame is decoded).
    """
    from sora_core.video_io import read_video

    if not isinstance(path, str | os.PathLike):
        raise ConfigError(f"load_video takes a path, got {type(path).__name__}", "pass a file or folder name")
    return Video(read_video(path), fps=fps, path=path)


# --- options shared by every pipeline run ----------------------------------------------------------------


def _swap_strings(swaps: Mapping[str, Any] | Iterable[str] | None, names: _Names) -> list[str]:
    """``{"scheduler": "sora-dit:rectified-flow-heun"}`` (or ``["scheduler=..."]``) as ``NODE=PARTICLE`` texts; a
    value may also be a weights folder, or ``{"particle": NAME, "weights": DIR}`` as ``with_changes`` takes it."""
    if swaps is None:
        return []
    if isinstance(swaps, Mapping):
        texts = []
        for node, particle in swaps.items():
            if isinstance(particle, Mapping) and set(particle) <= {"particle", "weights"} and particle:
                # {"particle": NAME, "weights": DIR}, either left out: NAME@DIR, NAME or DIR
                name, weights = particle.get("particle"), particle.get("weights")
                parts = [os.fspath(p) for p in (name, weights) if p is not None]
                particle = "@".join(parts) if len(parts) == 2 else parts[0] if parts else ""
            if not isinstance(node, str) or not isinstance(particle, str | os.PathLike) or not particle:
                raise ConfigError(
                    f"swaps={{{node!r}: {particle!r}}}: a swap maps a node name to a particle name or weights folder",
                    'write e.g. swaps={"scheduler": "sora-dit:rectified-flow-heun"}',
                )
            texts.append(f"{node}={os.fspath(particle)}")
        return texts
    if isinstance(swaps, str):
        raise ConfigError(f"swaps={swaps!r} is one text, not a list or a mapping", f"write swaps=[{swaps!r}]")
    return [str(item) for item in swaps]


def _setting_strings(settings: Mapping[str, Any] | Iterable[str] | None, names: _Names) -> list[str]:
    """``{"sampler.guidance_scale": 5}`` or ``{"sampler": {"guidance_scale": 5}}`` (or ``["sampler.x=5"]``) as
    ``NODE.FIELD=VALUE`` texts, values as JSON."""
    if settings is None:
        return []
    if isinstance(settings, str):
        raise ConfigError(
            f"settings={settings!r} is one text, not a list or a mapping", f"write settings=[{settings!r}]"
        )
    if not isinstance(settings, Mapping):
        return [str(item) for item in settings]
    flat: list[tuple[str, Any]] = []
    for key, value in settings.items():
        if isinstance(value, Mapping) and isinstance(key, str) and "." not in key:
            flat += [(f"{key}.{field}", inner) for field, inner in value.items()]
        else:
            flat.append((key, value))
    texts = []
    for key, value in flat:
        try:
            text = json.dumps(os.fspath(value) if isinstance(value, os.PathLike) else value, allow_nan=False)
        except (TypeError, ValueError):
            raise ConfigError(
                f"settings[{key!r}] = {value!r} is not a plain value (a number, text, true/false, a list or mapping)",
                "pass the value as JSON would hold it",
            ) from None
        texts.append(f"{key}={text}")
    return texts


def _run_args(template: Any, seed: Any, swaps: Any, settings: Any, names: _Names) -> SimpleNamespace:
    """What :func:`sora_core.cli.pipeline_commands.build` reads: the command line's namespace, from keywords."""
    return SimpleNamespace(
        target=template, seed=seed, swaps=_swap_strings(swaps, names), settings=_setting_strings(settings, names)
    )


class _Recorder:
    """Records every warning raised inside ``with``; SoraWarnings are kept (``messages``), the rest re-raised as
    they came. Under ``strict`` a SoraWarning is a :class:`StrictWarningError` when the block ends."""

    def __init__(self, strict: bool, names: _Names) -> None:
        self.strict = strict
        self.names = names
        self.messages: list[str] = []
        self.records: list[warnings.WarningMessage] = []

    def __enter__(self) -> _Recorder:
        self._context = warnings.catch_warnings(record=True)
        self._caught = self._context.__enter__()
        warnings.simplefilter("always", SoraWarning)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._context.__exit__(*exc)
        for record in self._caught:
            if issubclass(record.category, SoraWarning):
                if str(record.message) not in self.messages:  # each message once, however often it was raised
                    self.messages.append(str(record.message))
                    self.records.append(record)
            else:
                warnings.warn_explicit(record.message, record.category, record.filename, record.lineno)
        if exc[0] is None and self.strict and self.messages:
            raise StrictWarningError(
                "; ".join(self.messages), f"{self.names.strict} to accept a result its weights were not made for"
            )


def _unique(records: Iterable[warnings.WarningMessage]) -> list[warnings.WarningMessage]:
    """The first record of each message, in order."""
    unique: dict[str, warnings.WarningMessage] = {}
    for record in records:
        unique.setdefault(str(record.message), record)
    return list(unique.values())


def _emit(records: Iterable[warnings.WarningMessage]) -> None:
    """Raise recorded SoraWarnings again as Python warnings, under the caller's own warning filters."""
    for record in records:
        warnings.warn_explicit(record.message, record.category, record.filename, record.lineno)


# --- text to video ---------------------------------------------------------------------------------------


class VideoGenerator:
    """A text-to-video pipeline built once, to make one video per prompt: :meth:`generate`, :meth:`generate_all`.

    The keywords are :func:`generate`'s. Building checks everything that can be checked before a run (the
    template or model folder, swaps, settings, seed, device, sizes), each failure a ``SoraError``.
    """

    def __init__(
        self,
        *,
        template: Any = None,
        model: str | os.PathLike[str] | None = None,
        frames: int | None = None,
        height: int | None = None,
        width: int | None = None,
        steps: int | None = None,
        guidance: float | None = None,
        candidates: int | None = None,
        negative_prompt: str | None = None,
        rewrite: bool | None = None,
        allow_unknown: bool | None = None,
        seed: int = 0,
        fps: float = DEFAULT_FPS,
        device: str | None = None,
        dtype: str | None = None,
        swaps: Mapping[str, Any] | Iterable[str] | None = None,
        settings: Mapping[str, Any] | Iterable[str] | None = None,
        progress: bool | None = False,
        strict: bool = False,
        _names: _Names = _API,
    ) -> None:
        from sora_core.cli.pipeline_commands import build
        from sora_core.video_io import check_fps

        names = self._names = _names
        if template is not None and model is not None:
            raise ConfigError(f"{names('template')} and {names('model')} both name the pipeline", "give one of them")
        from sora_core.limits import check_seed

        check_seed(seed, names("seed"))
        self.fps = check_fps(fps, flag=names("fps"))
        _check_guidance(guidance, names)
        if dtype is not None and dtype not in ("float32", "float16", "bfloat16"):
            raise ConfigError(
                f"{names.value('dtype', dtype)} is not a compute dtype", "use float32, float16 or bfloat16"
            )
        self.seed = seed
        self.progress = progress
        self.strict = strict
        options = {
            "frames": frames,
            "height": height,
            "width": width,
            "guidance": guidance,
            "candidates": candidates,
            "steps": steps,
            "negative_prompt": negative_prompt,
            "rewrite": rewrite,
            "allow_unknown": allow_unknown,
        }
        flags = [
            f"{node}.{field}={json.dumps(options[option])}"
            for option, (node, field) in GENERATE_OPTIONS.items()
            if options[option] is not None
        ]
        args = _run_args("t2v" if template is None else template, seed, swaps, settings, names)
        args.settings = flags + args.settings
        spec = _model_spec(os.fspath(model)) if model is not None else _target_spec(args, names)
        if device is not None:
            from sora_core.limits import check_device

            check_device(device, names("device"))
        with _Recorder(strict, names) as recorder:
            self.pipeline = build(args, spec=spec, placement=(device, dtype))
        self._build_warnings = recorder.records
        pipe = self.pipeline
        if "prompt" not in pipe.spec.inputs or "video" not in pipe.spec.outputs:
            raise ConfigError(
                f"pipeline {pipe.name!r} is not a text-to-video pipeline: it needs an input 'prompt' and an output "
                "'video'",
                "use the t2v template, or a spec with those names",
            )
        if self.size is not None:
            _check_size(self.size, names)

    @property
    def size(self) -> tuple[int, int, int] | None:
        """``(frames, height, width)`` the ``sampler`` node is configured to make, when it has such fields."""
        config = getattr(self.pipeline.nodes.get("sampler"), "config", None)
        size = tuple(getattr(config, field, None) for field in ("frames", "height", "width"))
        return size if all(isinstance(n, int) for n in size) else None  # type: ignore[return-value]

    @property
    def extra_outputs(self) -> list[str]:
        """The pipeline's outputs besides ``video`` (kept on each video as :attr:`Video.outputs`)."""
        return [name for name in self.pipeline.spec.outputs if name != "video"]

    def generate(self, prompt: str) -> Video:
        """One video of ``prompt``; its SoraWarnings are raised as Python warnings and kept on ``video.warnings``."""
        video, records = self._make(prompt)
        _emit(records)
        return video

    def generate_all(self, prompts: Iterable[str]) -> list[Video]:
        """One video per prompt, each made as :meth:`generate` makes it (the same seed for each)."""
        return [self.generate(prompt) for prompt in _prompt_list(prompts, self._names)]

    def _make(self, prompt: str) -> tuple[Video, list[warnings.WarningMessage]]:
        """The video and the SoraWarnings of building and running; under ``strict``, a ``StrictWarningError``."""
        check_prompt(prompt, self._names)
        with _Recorder(self.strict, self._names) as recorder:
            outputs = self.pipeline.run({"prompt": [prompt]}, seed=self.seed, progress=self.progress)
        records = _unique([*self._build_warnings, *recorder.records])
        made = outputs["video"]
        if getattr(made, "ndim", 0) == 5:
            _check_size(tuple(made.shape[-3:]), self._names, made=True)  # before a frame is converted
        video = Video(
            made,
            fps=self.fps,
            prompt=prompt,
            seed=self.seed,
            warnings=[str(record.message) for record in records],
            outputs={name: value for name, value in outputs.items() if name != "video"},
            rewrite=self._rewrite_report(prompt),
        )
        return video, records

    def _rewrite_report(self, prompt: str) -> dict[str, Any] | None:
        """The report of the pipeline's prompt rewriter on ``prompt`` (None without one, or when it is off)."""
        for node in self.pipeline.nodes.values():
            if getattr(node, "kind", None) == "prompt_rewriter" and callable(getattr(node, "rewrite", None)):
                enabled = getattr(getattr(node, "config", None), "enabled", True)
                return node.rewrite(prompt) if enabled else None  # the node's matcher caches: no second encoding
        return None


def generate(prompt: str, **options: Any) -> Video:
    """Make one video of ``prompt`` with the ``t2v`` template (or ``template=``, or ``model=`` a diffusers folder).

    Options, as ``sora generate``'s flags: ``frames``, ``height``, ``width``, ``steps``, ``guidance``,
    ``candidates``, ``negative_prompt``, ``rewrite`` (False: the prompt goes to the generator as written),
    ``allow_unknown`` (True: a prompt of nothing the weights know is generated anyway, with a warning, instead of
    refused), ``seed`` (default 0: the same seed makes the same video), ``fps`` (of
    the saved file), ``device``, ``dtype``, ``swaps`` (``{"node": "particle"}``), ``settings``
    (``{"node.field": value}``), ``progress`` and ``strict`` (a :class:`~sora_core.errors.SoraWarning` becomes a
    :class:`StrictWarningError`). Without ``strict`` each SoraWarning is raised as a Python warning and kept on
    ``video.warnings``.
    """
    return VideoGenerator(**options).generate(prompt)


def generate_all(prompts: Iterable[str], **options: Any) -> list[Video]:
    """One video per prompt from one pipeline built once (options as :func:`generate`'s, the same seed for each)."""
    return VideoGenerator(**options).generate_all(prompts)


def check_prompt(prompt: Any, names: _Names = _API) -> str:
    if not isinstance(prompt, str):
        hint = "use generate_all for several prompts" if isinstance(prompt, list | tuple) else "pass a text"
        raise ConfigError(f"a prompt is a text, got {type(prompt).__name__}", hint)
    if not prompt.strip():
        example = 'sora generate "a red circle moving right"' if names.cli else 'generate("a red circle moving right")'
        raise ConfigError("the prompt is empty", f"describe the video, e.g. {example}")
    return prompt


def _prompt_list(prompts: Iterable[str], names: _Names) -> list[str]:
    if isinstance(prompts, str):
        raise ConfigError("generate_all takes a list of prompts, got one text", "use generate for one prompt")
    listed = [check_prompt(prompt, names) for prompt in prompts]
    if not listed:
        raise ConfigError("no prompt given", "pass at least one prompt")
    return listed


def _target_spec(args: SimpleNamespace, names: _Names) -> Any:
    """``template=`` given as a spec (a ``PipelineSpec`` or its plain data) rather than a name or file: that spec;
    ``None`` for a name or file, which ``build`` loads (``args.target`` made a plain string)."""
    from sora_core.pipeline.spec import PipelineSpec, spec_from_data

    target = args.target
    if isinstance(target, str | os.PathLike):
        args.target = os.fspath(target)
        return None
    if isinstance(target, PipelineSpec):
        return target
    if isinstance(target, Mapping):
        return spec_from_data(dict(target), names("template"))
    raise ConfigError(
        f"{names('template')}: a template is a name, a spec file or a spec, got {type(target).__name__}",
        'write e.g. template="t2v"',
    )


def _model_spec(path: str) -> Any:
    """The spec an installed importer writes for the model folder ``path``."""
    from sora_core import registry
    from sora_core.importers import import_spec, importer_for_folder

    return import_spec(importer_for_folder(path, registry.default_registry), path)


def _check_guidance(guidance: Any, names: _Names) -> None:
    if guidance is None:
        return
    if (
        isinstance(guidance, bool)
        or not isinstance(guidance, int | float)
        or not math.isfinite(guidance)
        or guidance < 0
    ):
        raise ConfigError(
            f"{names.value('guidance', guidance)} is out of range: it is a finite number from 0 up",
            "1 turns guidance off; 3 to 7 is usual (the default is the template's, 4)",
        )


def _check_size(size: tuple[int, ...], names: _Names, *, made: bool = False) -> None:
    """Refuse frames x height x width over the output limits, before a run (or before a made video is kept)."""
    from sora_core.video_io import check_video_size

    count, height, width = (int(n) for n in size)
    if made:
        what = "the pipeline made a video"
    elif names.cli:
        what = f"--frames {count} --height {height} --width {width}"
    else:
        what = f"frames={count}, height={height}, width={width}"
    check_video_size(count, height, width, what=what)


def _write_outputs(outputs: Mapping[str, Any], target: Path) -> Path:
    """Tensors as tensors, everything else as JSON in the metadata, to one safetensors file (atomically)."""
    from safetensors.torch import save_file

    from sora_core.atomic import atomic_path

    tensors, metadata = {}, {}
    for name, value in outputs.items():
        if hasattr(value, "detach"):
            tensors[name] = value.detach().cpu().contiguous()
        else:
            metadata[name] = json.dumps(value, default=repr)
    with atomic_path(target, suffix=".safetensors") as temporary:
        save_file(tensors, str(temporary), metadata=metadata or None)
    return target


# --- video to text ---------------------------------------------------------------------------------------


class Summary:
    """What :func:`summarize` finds: ``text`` (one line), ``key_frames`` (indices into the clip) and ``images``,
    the key frames themselves as ``(K, H, W, 3)`` ``uint8`` (``None`` when the pipeline has no ``images``)."""

    def __init__(
        self, text: str, key_frames: list[int], images: np.ndarray | None, warnings: Sequence[str] = ()
    ) -> None:
        self.text = text
        self.key_frames = key_frames
        self.images = images
        self.warnings = list(warnings)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Summary({self.text!r}, key_frames={self.key_frames})"

    def save_sheet(self, path: str | os.PathLike[str], *, scale: int = 1) -> Path:
        """Write the key frames side by side into one PNG, atomically; a ``ConfigError`` when there are none."""
        return self._save_sheet(path, scale=scale, names=_API)

    def _save_sheet(self, path: Any, *, scale: int, names: _Names) -> Path:
        from sora_core.cli.paths import check_output_path
        from sora_core.video_io import check_scale, write_contact_sheet

        target = check_output_path(path, "Summary.save_sheet", (".png",), what="image") if not names.cli else path
        if self.images is None or not len(self.images):
            raise ConfigError(
                "the summary has no key frames to put on a sheet", "summarize a clip in which something happens"
            )
        count, height, width, _ = self.images.shape
        check_scale(scale, count, height, width, flag=names("scale"), columns=count)
        images = self.images if scale == 1 else self.images.repeat(scale, axis=1).repeat(scale, axis=2)
        return write_contact_sheet(images, target, columns=count)


def _clip(video: Any) -> Video:
    if isinstance(video, Video):
        return video
    if isinstance(video, str | os.PathLike):
        return load_video(video)
    raise ConfigError(
        f"a clip is a path or a sora_core.Video, got {type(video).__name__}", "wrap frames in sora_core.Video(frames)"
    )


class Understander:
    """A video-to-text pipeline built once, to run on many clips with :meth:`run` (a batch job's worker).

    ``template`` (a name, spec file or spec; ``None``: ``default``) is built with ``swaps``/``settings`` and must
    have the input ``video``, the inputs named in ``inputs`` and the ``wanted`` outputs; ``seed``, ``device``,
    ``progress`` and ``strict`` are :func:`generate`'s. Every failure is a ``SoraError``, raised here, before any
    clip is read.
    """

    def __init__(
        self,
        inputs: Sequence[str],
        wanted: Sequence[str],
        *,
        template: Any,
        default: str,
        seed: int = 0,
        swaps: Mapping[str, Any] | Iterable[str] | None = None,
        settings: Mapping[str, Any] | Iterable[str] | None = None,
        device: str | None = None,
        progress: bool | None = False,
        strict: bool = False,
        _names: _Names = _API,
    ) -> None:
        from sora_core.cli.pipeline_commands import build
        from sora_core.limits import check_device, check_seed

        check_seed(seed, _names("seed"))
        if device is not None:
            check_device(device, _names("device"))
        self.seed, self.progress, self.strict, self._names = seed, progress, strict, _names
        args = _run_args(default if template is None else template, seed, swaps, settings, _names)
        spec = _target_spec(args, _names)
        with _Recorder(strict, _names) as recorder:
            self.pipeline = pipe = build(args, spec=spec, placement=(device, None))
        self._build_warnings = recorder.records
        missing = [f"input {n!r}" for n in ("video", *inputs) if n not in pipe.spec.inputs]
        missing += [f"output {n!r}" for n in wanted if n not in pipe.spec.outputs]
        if missing:
            raise ConfigError(
                f"pipeline {pipe.name!r} lacks {', '.join(missing)}", f"use a template with them (default {default})"
            )

    def run(self, video: Any, inputs: Mapping[str, Any]) -> tuple[dict[str, Any], list[warnings.WarningMessage]]:
        """The outputs on one clip (a path or a :class:`Video`) and the SoraWarnings of building and running."""
        from sora_core.video_io import to_video

        clip = _clip(video)
        with _Recorder(self.strict, self._names) as recorder:
            frames = to_video(clip._writable_frames())[None]
            outputs = self.pipeline.run({"video": frames, **inputs}, seed=self.seed, progress=self.progress)
        return outputs, _unique([*self._build_warnings, *recorder.records])


def understand(
    video: Any, inputs: Mapping[str, Any], wanted: Sequence[str], **options: Any
) -> tuple[dict[str, Any], list[warnings.WarningMessage]]:
    """Build ``template`` (a video-to-text template or spec) with ``swaps``/``settings``, check that it has the
    input ``video``, ``inputs`` and the ``wanted`` outputs, and run it on the clip; the outputs and the
    SoraWarnings raised (a :class:`StrictWarningError` under ``strict``). A :class:`Video` is read as its
    ``uint8`` frames, exactly as the same clip saved losslessly and read back. ``options`` are
    :class:`Understander`'s keywords (``template`` and ``default`` among them)."""
    from sora_core.limits import check_seed

    check_seed(options.get("seed", 0), options.get("_names", _API)("seed"))
    clip = _clip(video)  # an unreadable (or too large) file fails before anything is built
    return Understander(tuple(inputs), wanted, **options).run(clip, inputs)


def caption(video: Any, *, template: Any = None, **options: Any) -> str:
    """Describe a clip (a path or a :class:`Video`) in words with the ``v2t`` template.

    Options: ``seed``, ``swaps``, ``settings``, ``device``, ``progress``, ``strict``, as for :func:`generate`.
    """
    outputs, records = understand(video, {}, ("caption",), template=template, default="v2t", **options)
    _emit(records)
    return str(outputs["caption"][0])


def ask(video: Any, question: str, *, template: Any = None, **options: Any) -> str:
    """Answer ``question`` about a clip (a path or a :class:`Video`) with the ``vqa`` template."""
    question = check_question(question, options.get("_names", _API))
    outputs, records = understand(
        video, {"question": [question]}, ("answer",), template=template, default="vqa", **options
    )
    _emit(records)
    return str(outputs["answer"][0])


def summarize(video: Any, *, template: Any = None, **options: Any) -> Summary:
    """The key frames of a clip (a path or a :class:`Video`) and a one-line summary, with the ``summarize``
    template; ``str(summary)`` is the line, ``summary.save_sheet("keys.png")`` writes the key frames."""
    outputs, records = understand(video, {}, ("frames", "summary"), template=template, default="summarize", **options)
    _emit(records)
    return summary_of(outputs, records)


def summary_of(outputs: Mapping[str, Any], records: Sequence[warnings.WarningMessage] = ()) -> Summary:
    from sora_core.video_io import to_frames

    frames = [int(f) for f in outputs["frames"][0] if f >= 0]
    images = None
    if "images" in outputs:
        chosen = outputs["images"][0, : len(frames)]  # (K, 3, H, W): K frames of one clip
        images = to_frames(chosen.permute(1, 0, 2, 3)) if frames else None
    messages = list(dict.fromkeys(str(r.message) for r in records))
    return Summary(str(outputs["summary"][0]), frames, images, messages)


def check_question(question: Any, names: _Names = _API) -> str:
    if not isinstance(question, str):
        raise ConfigError(f"a question is a text, got {type(question).__name__}", "pass the question as a str")
    if not question.strip():
        example = (
            'sora ask clip.mp4 "what colour is the circle?"' if names.cli else 'ask(clip, "what colour is the circle?")'
        )
        raise ConfigError("the question is empty", f"ask e.g. {example}")
    return question


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


def _float32() -> Any:
    import torch

    return torch.float32
