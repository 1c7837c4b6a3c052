"""Particle configuration: a pydantic model per particle, validated and JSON-serialisable."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

from sora_core.errors import ConfigError


class ParticleConfig(BaseModel):
    """Base class of every particle's configuration.

    Unknown fields are refused, values are validated on assignment, and the
    model round-trips through JSON (``model_dump_json`` / ``model_validate_json``).
    Floats are finite (``inf`` and ``nan`` are refused), and an integer field refuses a
    float even when it is whole (``1e12``): a size written that way is almost always a mistake.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_float_for_int(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if isinstance(value, float) and field is not None and _wants_int(field.annotation):
            raise ValueError("must be an integer, not a float")
        return value


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


def _wants_int(annotation: Any) -> bool:
    """Whether a field of this type takes integers but not floats (``int``, ``int | None``)."""
    if annotation is int:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = typing.get_args(annotation)
        return int in members and float not in members
    return False


def _describe(error: Any) -> str:
    field = ".".join(str(part) for part in error.get("loc", ())) or "(config)"
    if error.get("type") == "extra_forbidden":
        return f"field {field!r} is not a known option"
    value = repr(error.get("input"))
    if len(value) > 60:  # a config value can be a whole document; the field and the reason say enough
        value = value[:57] + "..."
    return f"field {field!r} = {value}: {str(error.get('msg', 'invalid')).removeprefix('Value error, ')}"
