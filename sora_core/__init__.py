"""sora-core: a text-to-video model taken apart into typed, interchangeable particles.

The names below are the public API. They are loaded on first use, so importing
``sora_core`` stays cheap and imports no torch until a learned particle is needed.

The one-call API (:mod:`sora_core.api`): ``sora_core.generate(prompt, **options)`` returns a
``Video``; ``load_video(path)``; ``caption``, ``ask`` and ``summarize`` take a path or a ``Video``.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing, which `sora --help` does not need
if TYPE_CHECKING:
    from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Particle": "sora_core.particle",
    "WeightlessParticle": "sora_core.particle",
    "ParticleConfig": "sora_core.config",
    "PortSpec": "sora_core.ports",
    "connection_problems": "sora_core.ports",
    "can_connect": "sora_core.ports",
    "KindSpec": "sora_core.kinds",
    "SpaceSpec": "sora_core.spaces",
    "ParticleInfo": "sora_core.metadata",
    "Registry": "sora_core.registry",
    "hookimpl": "sora_core.hooks",
    "SoraError": "sora_core.errors",
    "registry": "sora_core.registry",
    "interfaces": "sora_core.interfaces",
    "testing": "sora_core.testing",
    # the one-call API: torch is imported when a function is called, not here
    "api": "sora_core.api",
    "generate": "sora_core.api",
    "generate_all": "sora_core.api",
    "VideoGenerator": "sora_core.api",
    "Video": "sora_core.api",
    "Summary": "sora_core.api",
    "load_video": "sora_core.api",
    "caption": "sora_core.api",
    "ask": "sora_core.api",
    "summarize": "sora_core.api",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'sora_core' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    value = module if module_name.endswith(f".{name}") else getattr(module, name)
    globals()[name] = value
    return value
