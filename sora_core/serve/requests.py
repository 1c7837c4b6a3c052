"""A generation request (``POST /v1/generations``) checked field by field, before it is queued.

Every refusal is a :class:`~sora_core.serve.problems.ServeError` naming the field and the fix: an unknown
field, a value of the wrong type, a missing, empty or too long prompt, and (through the pipeline's own
config checks, :meth:`~sora_core.serve.backend.Backend.check_settings`) a size or step count the pipeline
does not accept. Nothing in a request decides what is imported or run: it fills in values only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sora_core.errors import SoraError
from sora_core.serve.problems import ServeError, from_sora_error

#: Largest JSON body of a generation request, in bytes.
MAX_BODY_BYTES = 64 * 1024
#: Longest prompt, in characters.
MAX_PROMPT_CHARS = 500

_PROMPT_HINT = 'describe the video, e.g. "a red circle moving right"'

#: The fields of a generation request: JSON type and what it sets (the OpenAPI schema is built from this).
FIELDS: dict[str, tuple[str, str]] = {
    "prompt": ("string", f"what the video should show (required; 1 to {MAX_PROMPT_CHARS} characters)"),
    "frames": ("integer", "number of frames (the default VAE needs 1 + 4k: 5, 9, 13, ...)"),
    "height": ("integer", "frame height in pixels (a multiple of 8 with the default pipeline)"),
    "width": ("integer", "frame width in pixels (a multiple of 8 with the default pipeline)"),
    "steps": ("integer", "sampling steps"),
    "guidance": ("number", "classifier-free guidance scale (1 turns it off)"),
    "seed": ("integer", "seed of the run, 0 to 2**64 - 1 (default 0): same seed and batch, same video"),
}
#: The fields that set the pipeline (everything but the prompt); jobs equal in all of them share a batch.
SETTINGS = tuple(name for name in FIELDS if name != "prompt")


@dataclass(frozen=True)
class GenerationRequest:
    """A checked request: the prompt and every setting filled in (the server's defaults where not given)."""

    prompt: str
    settings: dict[str, Any]

    @property
    def batch_key(self) -> tuple[tuple[str, Any], ...]:
        """Jobs with equal keys run together in one pipeline call: the same sizes, sampling and seed."""
        return tuple((name, self.settings[name]) for name in SETTINGS)


def parse_generation(
    body: Any, defaults: Mapping[str, Any], check_settings: Callable[[dict[str, Any]], None]
) -> GenerationRequest:
    """Check a decoded JSON ``body``; ``defaults`` fill the settings not given and ``check_settings`` refuses
    what the pipeline does not accept (a ``ServeError`` naming the field)."""
    from sora_core.api import check_prompt
    from sora_core.limits import check_seed

    if not isinstance(body, dict):
        raise ServeError(
            422,
            f"the request body is a JSON {_json_type(body)}, not an object",
            'send e.g. {"prompt": "a red circle moving right"}',
        )
    for name in body:
        if name not in FIELDS:
            raise ServeError(
                422, f"unknown field {name!r}", f"the fields are {', '.join(FIELDS)}; remove {name!r}", field=name
            )
    for name, value in body.items():
        _check_type(name, value)
    if "prompt" not in body:
        raise ServeError(422, "the field 'prompt' is required", _PROMPT_HINT, field="prompt")
    prompt = body["prompt"]
    try:
        check_prompt(prompt)
    except SoraError as exc:
        raise ServeError(422, exc.message, _PROMPT_HINT, field="prompt") from None
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ServeError(
            422,
            f"the prompt is {len(prompt)} characters long, over the limit of {MAX_PROMPT_CHARS}",
            "describe the video in fewer words",
            field="prompt",
        )
    settings = {name: body.get(name, defaults.get(name)) for name in SETTINGS}
    try:
        check_seed(settings["seed"], "seed")
    except SoraError as exc:
        raise from_sora_error(exc, "seed") from None
    check_settings(settings)
    return GenerationRequest(prompt=prompt, settings=settings)


def _check_type(name: str, value: Any) -> None:
    kind = FIELDS[name][0]
    if kind == "string":
        fits = isinstance(value, str)
    elif kind == "integer":
        fits = isinstance(value, int) and not isinstance(value, bool)
    else:
        fits = isinstance(value, int | float) and not isinstance(value, bool)
    if not fits:
        example = {"string": '"a red circle moving right"', "integer": "9", "number": "4.0"}[kind]
        raise ServeError(
            422,
            f"the field {name!r} is a JSON {_json_type(value)}, not a {kind}",
            f"send {name} as a {kind}, e.g. {example}",
            field=name,
        )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)
