"""The error hierarchy: every user-facing failure is a :class:`SoraError`.

Each error carries a one-line ``message`` that names the file, particle, port or
field at fault, and a ``hint`` that says what would fix it. The CLI prints both
and exits non-zero; it never shows a traceback for a ``SoraError``.
"""

from __future__ import annotations


class SoraError(Exception):
    """Base class of every error sora-core raises on purpose."""

    exit_code: int = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class SoraWarning(UserWarning):
    """A result made anyway, but not one the weights were made for (a size outside their training): particles
    warn with it and ``sora generate`` prints each one as a ``warning:`` line."""


# --- names and plugins -----------------------------------------------------------------


class ParticleNotFoundError(SoraError, LookupError):
    """No installed particle has the asked name."""

    def __init__(self, name: str, close_matches: list[str] | None = None) -> None:
        self.name = name
        self.close_matches = list(close_matches or [])
        if self.close_matches:
            hint = "did you mean " + ", ".join(repr(m) for m in self.close_matches) + "?"
        else:
            hint = "run `sora list` to see the installed particles, or `pip install` the plugin"
        super().__init__(f"unknown particle {name!r}", hint)


class AmbiguousNameError(SoraError, LookupError):
    """A short name matches particles from several distributions."""

    def __init__(self, name: str, candidates: list[str]) -> None:
        self.name = name
        self.candidates = sorted(candidates)
        super().__init__(
            f"particle name {name!r} is ambiguous: it matches " + " and ".join(self.candidates),
            "use the full name `dist:name`, e.g. " + repr(self.candidates[0]),
        )


class BrokenPluginError(SoraError):
    """A plugin failed to import, or its metadata is invalid."""

    def __init__(self, plugin: str, reason: str, hint: str | None = None) -> None:
        self.plugin = plugin
        self.reason = reason
        super().__init__(
            f"plugin {plugin!r} is broken: {reason}",
            hint or "run `sora doctor` for details; reinstall or fix the plugin",
        )


class ManifestError(SoraError):
    """A plugin's static particle manifest is missing, unreadable or out of date."""


class KindError(SoraError):
    """A particle does not satisfy its kind, or the kind is unknown."""


# --- configuration ---------------------------------------------------------------------


class ConfigError(SoraError, ValueError):
    """A configuration value is invalid."""


class PortError(SoraError):
    """Ports cannot be connected, or a port received the wrong value."""


# --- weights ---------------------------------------------------------------------------


class WeightsError(SoraError):
    """Base class for problems with weight files."""


class UnsafeWeightsError(WeightsError):
    """A file that is not safetensors (pickle, for example) was offered as weights."""


class CorruptWeightsError(WeightsError):
    """A weight file is truncated or is not valid safetensors."""


class HashMismatchError(WeightsError):
    """A weight file's sha256 differs from the one its manifest records."""


class TensorMismatchError(WeightsError):
    """A stored tensor is missing, unexpected, or has the wrong shape or dtype."""


class MissingWeightsError(WeightsError, FileNotFoundError):
    """A weights directory or one of its files does not exist."""


class UnknownParticleClassError(WeightsError):
    """A weights folder's ``config.json`` names a particle that no installed entry point provides."""


# --- pipelines -------------------------------------------------------------------------


class SpecError(SoraError):
    """A pipeline spec file is unreadable or invalid."""


class PipelineError(SoraError):
    """A pipeline cannot be built: every problem found is listed."""

    def __init__(self, pipeline: str, problems: list[str], hint: str | None = None) -> None:
        self.pipeline = pipeline
        self.problems = list(problems)
        count = f"{len(self.problems)} problem" + ("s" if len(self.problems) != 1 else "")
        super().__init__(
            f"pipeline {pipeline!r} is invalid ({count}):\n" + "\n".join(f"  - {p}" for p in self.problems),
            hint or "fix the spec (or swap the named node for a particle that fits) and build again",
        )


class IncompatibleSwapError(PipelineError):
    """A swap was refused because the new particle does not fit the graph."""


class TemplateNotFoundError(SoraError, LookupError):
    """No installed plugin provides the asked pipeline template."""


class ComponentError(SoraError):
    """A particle's component slot is unbound, unknown, or bound to a particle of the wrong kind."""


class PromptError(SoraError):
    """A prompt asks for nothing the generator's weights can draw (every object in it is unknown to them)."""


class PipelineRuntimeError(SoraError):
    """A node failed or returned something other than its declared outputs while running."""


class LockDriftError(SoraError):
    """A pipeline no longer matches its lock file."""


class LockFileError(SoraError):
    """A lock file is missing, unreadable, not JSON, of another format, or invalid."""


# --- packaging and publishing -----------------------------------------------------------


class PackageError(SoraError):
    """A wheel, sdist or plugin project that cannot be read, built or published."""


class RegistryClientError(SoraError):
    """A particle registry refused a request or could not be reached."""


# --- scaffolding -----------------------------------------------------------------------


class ScaffoldError(SoraError):
    """``sora new`` refused: an invalid name, kind or licence, or a target directory in the way."""
