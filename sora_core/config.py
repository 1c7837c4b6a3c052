"""Particle configuration: a pydantic model per particle, validated and JSON-serialisable."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from sora_core.errors import ConfigError


class ParticleConfig(BaseModel):
    """Base class of every particle's configuration.

    Unknown fields are refused, values are validated on assignment, and the
    model round-trips through JSON (``model_dump_json`` / ``model_validate_json``).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=True)


def validate_config(
    config_class: type[ParticleConfig],
    values: ParticleConfig | dict[str, Any] | None,
    overrides: dict[str, Any],
    owner: str,
) -> ParticleConfig:
    """Build a config from ``values`` plus ``overrides``; raise ``ConfigError`` naming each bad field."""
    if isinstance(values, ParticleConfig):
        if not isinstance(values, config_class):
            raise ConfigError(
                f"{owner}: expected a {config_class.__name__}, got a {type(values).__name__}",
                f"pass a {config_class.__name__} or plain keyword values",
            )
        data: dict[str, Any] = values.model_dump()
    else:
        data = dict(values or {})
    data.update(overrides)
    try:
        return config_class.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            f"{owner}: invalid config: " + "; ".join(_describe(error) for error in exc.errors()),
            "see the config schema with `sora info " + owner + "`",
        ) from None


def _describe(error: Any) -> str:
    field = ".".join(str(part) for part in error.get("loc", ())) or "(config)"
    if error.get("type") == "extra_forbidden":
        return f"field {field!r} is not a known option"
    value = error.get("input")
    return f"field {field!r} = {value!r}: {error.get('msg', 'invalid')}"
