"""The errors of ``sora tune`` that are not about a file's fields (those are ``ConfigError``s)."""

from __future__ import annotations

from sora_core.errors import SoraError


class TuneError(SoraError):
    """A study that cannot be run, resumed, reported or applied as asked: it names the study, trial or storage."""
