"""What every particle wrapping a diffusers or transformers model shares: config, loading, files.

The particle's config holds the library's own model config (``model``: the fields of its ``config.json``)
beside the particle's run options. ``registry.load(name, weights=FOLDER/vae)`` reads a diffusers component
folder (or, for a folder ``save_pretrained`` of sora wrote, the sora format); the class to build is the
particle's own, never one named in the folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import torch
from pydantic import Field
from torch import nn

from sora_core.config import ParticleConfig
from sora_core.errors import ConfigError
from sora_core.interfaces import ModuleParticle
from sora_diffusers import folders
from sora_diffusers.loading import build_empty, load_into, place

P = TypeVar("P", bound="LibraryModelParticle")

#: Keys of a library config.json that describe the file, not the model.
_PRIVATE_PREFIX = "_"
_TRANSFORMERS_FILE_KEYS = frozenset(
    {"architectures", "transformers_version", "torch_dtype", "dtype", "_name_or_path", "output_past"}
)


class LibraryModelConfig(ParticleConfig):
    """``model``: the library model's config (its ``config.json`` fields)."""

    model: dict[str, Any] = Field(default_factory=dict, description="the library model's config.json fields")


def clean_model_config(config: dict[str, Any]) -> dict[str, Any]:
    """A library config without the keys that describe the file (``_class_name``, versions, dtypes)."""
    return {k: v for k, v in config.items() if not k.startswith(_PRIVATE_PREFIX) and k not in _TRANSFORMERS_FILE_KEYS}


def merge_overrides(pretrained: dict[str, Any], overrides: dict[str, Any] | None, library_key: str) -> dict[str, Any]:
    """The folder's config with a spec's overrides on top; the library's own config dict (``library_key``) is
    updated field by field, so ``{"scheduler": {"flow_shift": 5.0}}`` changes the shift and keeps the rest."""
    merged = dict(pretrained)
    for key, value in (overrides or {}).items():
        if key == library_key and isinstance(value, dict):
            merged[key] = {**merged.get(key, {}), **value}
        else:
            merged[key] = value
    return merged


class LibraryModelParticle(ModuleParticle):
    """A particle whose work is one diffusers/transformers model, ``self.model``.

    Subclasses set ``library_classes`` (the class names a component folder may declare), ``class_key``
    (``_class_name`` or ``architectures``) and implement :meth:`build_model` from a config dict.
    """

    weights_format: ClassVar[str] = "diffusers"
    library_classes: ClassVar[tuple[str, ...]] = ()
    class_key: ClassVar[str] = "_class_name"
    #: Defaults of ``model`` when the particle is created fresh (a tiny random model, for tests and docs).
    tiny_model: ClassVar[dict[str, Any]] = {}

    config: LibraryModelConfig

    def __init__(self, config: ParticleConfig | dict[str, Any] | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        model_config = {**self.tiny_model, **self.config.model}
        try:
            self.model = self.build_model(model_config)
        except (TypeError, ValueError, KeyError, AttributeError, AssertionError) as exc:
            raise ConfigError(
                f"{self.display_name()}: the model config does not build a {self.library_classes[0]}: "
                f"{type(exc).__name__}: {str(exc)[:200]}",
                "check the component's config.json (or the particle's `model` config)",
            ) from None

    def keeps_float32(self, dtype: torch.dtype | None) -> Callable[[str], bool]:
        """Which tensors stay float32 when the model is loaded in ``dtype``, as diffusers decides: any name
        containing one of the model class's ``_keep_in_fp32_modules``, whatever the dtype."""
        keep = tuple(getattr(self.model, "_keep_in_fp32_modules", None) or ())
        return lambda name: any(module in name for module in keep)

    def build_model(self, config: dict[str, Any]) -> nn.Module:
        """The library model for ``config`` (its ``config.json`` fields)."""
        raise NotImplementedError

    @classmethod
    def library_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """Particle config fields a component's ``config.json`` settles besides ``model`` (none by default)."""
        return {}

    @property
    def model_config(self) -> dict[str, Any]:
        return {**self.tiny_model, **self.config.model}

    # --- weights ---------------------------------------------------------------------------------------------

    @classmethod
    def from_pretrained(
        cls: type[P],
        directory: str | os.PathLike[str],
        *,
        dtype: Any = None,
        device: Any = None,
        verify: bool = True,
        overrides: dict[str, Any] | None = None,
    ) -> P:
        """A diffusers/transformers component folder (or a folder sora's save_pretrained wrote)."""
        path = Path(directory)
        if not folders.is_diffusers_component(path):
            return super().from_pretrained(path, dtype=dtype, device=device, verify=verify, overrides=overrides)
        folder = folders.locate(path)
        library_config = folders.component_config(folder.path, folder, cls.library_classes, cls.class_key)
        files = folders.weight_files(folder.path)
        pretrained = {**cls.library_config(library_config), "model": clean_model_config(library_config)}
        config = merge_overrides(pretrained, overrides, "model")
        particle = build_empty(lambda: cls(config))
        if dtype is not None:
            from sora_core.weights import resolve_dtype

            dtype = resolve_dtype(dtype)
        load_into(
            particle.model,
            files,
            f"{path}",
            dtype=dtype,
            keep_float32=particle.keeps_float32(dtype),
        )
        place(particle, device)
        return particle

    @classmethod
    def pretrained_config(cls, directory: str | os.PathLike[str]) -> dict[str, Any]:
        path = Path(directory)
        if not folders.is_diffusers_component(path):
            return super().pretrained_config(path)
        library_config = folders.component_config(path, folders.locate(path), cls.library_classes, cls.class_key)
        return {**cls.library_config(library_config), "model": clean_model_config(library_config)}

    @classmethod
    def pretrained_files(cls, directory: str | os.PathLike[str]) -> list[str] | None:
        path = Path(directory)
        if not folders.is_diffusers_component(path):
            return None
        files = [path / folders.CONFIG, *folders.weight_files(path)]
        index = [p for p in path.iterdir() if p.name.endswith(".safetensors.index.json")]
        return folders.relative_files(path, files + index)

    # --- placement -------------------------------------------------------------------------------------------

    def placement(self) -> tuple[torch.device, torch.dtype]:
        """Where the model's weights are, and their compute dtype: the library's own ``dtype`` (which skips the
        modules it keeps in float32), else the first floating parameter's."""
        dtype = getattr(self.model, "dtype", None)
        for parameter in self.model.parameters():
            if isinstance(dtype, torch.dtype) and parameter.is_floating_point():
                return parameter.device, dtype
            if parameter.is_floating_point():
                return parameter.device, parameter.dtype
        return torch.device("cpu"), torch.float32
