"""The rewriter's targets: what a generator was trained to draw, read from a JSON file (``t2v`` ships)."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from sora_core.errors import ConfigError
from sora_core.safe_json import load_json_bytes

__all__ = ["Targets", "read_targets"]

_HINT = (
    "set targets to t2v (the file sora-dit ships) or to a JSON file laid out as sora_dit/vocabularies/t2v-targets.json"
)


class Targets:
    """Colours (for objects and for backgrounds), shapes, sizes and motions with their words, and the domain's
    most objects per clip; generic nouns ("object") and framing words ("video", "clip") carry no attribute, and
    setting nouns ("screen", "edge", "moment") name no thing to draw when a motion phrase mentions them."""

    def __init__(self, data: dict[str, Any], source: str) -> None:
        def field(name: str, kind: type) -> Any:
            value = data.get(name)
            if not isinstance(value, kind) or not value:
                raise ConfigError(f"targets {source!r}: field {name!r} must be a non-empty {kind.__name__}", _HINT)
            return value

        self.source = source
        self.object_colours: tuple[str, ...] = tuple(field("object_colours", list))
        self.background_colours: tuple[str, ...] = tuple(field("background_colours", list))
        self.shapes: dict[str, list[str]] = field("shapes", dict)
        self.sizes: dict[str, list[str]] = field("sizes", dict)
        self.motions: dict[str, list[str]] = field("motions", dict)
        self.directions: dict[str, str] = field("directions", dict)
        self.max_objects: int = field("max_objects", int)
        self.generic_nouns = frozenset(field("generic_nouns", list))
        self.framing_words = frozenset(field("framing_words", list))
        setting = data.get("setting_nouns", [])
        if not isinstance(setting, list) or not all(isinstance(w, str) for w in setting):
            raise ConfigError(f"targets {source!r}: field 'setting_nouns' must be a list of words", _HINT)
        self.setting_nouns = frozenset(setting)
        for name in ("shapes", "sizes", "motions"):
            table = getattr(self, name)
            if not all(isinstance(v, list) and v and all(isinstance(w, str) for w in v) for v in table.values()):
                raise ConfigError(f"targets {source!r}: every entry of {name!r} must be a list of words", _HINT)
        if any(value not in self.motions for value in self.directions.values()):
            raise ConfigError(f"targets {source!r}: 'directions' must name motions of 'motions'", _HINT)

    def word(self, attribute: str, value: str) -> str:
        """The words the rewriter writes for ``value`` of ``attribute`` (the first listed)."""
        return {"shape": self.shapes, "size": self.sizes, "motion": self.motions}[attribute][value][0]


def read_targets(source: str) -> Targets:
    """The targets ``source`` names: ``t2v`` (shipped with sora-dit) or a path to a JSON file."""
    return _read(source)


@lru_cache(maxsize=8)
def _read(source: str) -> Targets:
    shipped = resources.files("sora_dit") / "vocabularies" / f"{source}-targets.json"
    try:
        if re.fullmatch(r"[a-z0-9_-]+", source) and shipped.is_file():
            raw = shipped.read_bytes()
        else:
            raw = Path(source).expanduser().read_bytes()
    except OSError as error:
        raise ConfigError(f"targets {source!r}: cannot read the file ({error})", _HINT) from None
    data = load_json_bytes(raw, f"targets {source!r}", error=ConfigError, hint=_HINT)
    if not isinstance(data, dict):
        raise ConfigError(f"targets {source!r}: must be a JSON object", _HINT)
    return Targets(data, source)
