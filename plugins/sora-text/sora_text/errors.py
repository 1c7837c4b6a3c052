"""sora-text's errors (no torch here)."""

from __future__ import annotations

from sora_core.errors import SoraError


class PretrainedPackageError(SoraError):
    """The package that ships a pretrained model's files is missing, incomplete or not the expected model."""
