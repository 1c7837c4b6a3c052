"""Type checks for the fields of a plugin manifest, each failure a ``ManifestError`` naming the field.

A manifest comes from an untrusted wheel as often as from an installed plugin, and what it declares is
stored by the registry and rendered on its pages, so every field is checked for its exact JSON type
(``true`` is not a number, ``5`` is not a string). The checks are hand-written because this module is
on the listing path, which imports neither torch nor pydantic.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sora_core.errors import ManifestError

REGENERATE = "regenerate it with `sora manifest DIST --write` and reinstall the plugin"

#: JSON Schema keywords whose values are schemas, lists of schemas or objects of schemas.
_SCHEMA_KEYS = ("items", "additionalProperties", "not", "contains")
_SCHEMA_LIST_KEYS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_MAP_KEYS = ("properties", "$defs", "definitions", "patternProperties")
_TEXT_KEYS = ("title", "description", "$ref", "format", "pattern")


def json_type(value: Any) -> str:
    """The JSON name of ``value``'s type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def fail(where: str, field: str, expected: str, value: Any) -> ManifestError:
    return ManifestError(f"{where}: field {field!r} must be {expected}, not {json_type(value)}", REGENERATE)


def text(data: Mapping[str, Any], key: str, where: str, *, default: str = "", required: bool = False) -> str:
    """``data[key]`` as a string (``default`` when absent and not ``required``)."""
    if key not in data and not required:
        return default
    value = data.get(key)
    if not isinstance(value, str) or (required and not value):
        raise fail(where, key, "a non-empty string" if required else "a string", value)
    return value


def flag(data: Mapping[str, Any], key: str, where: str, *, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise fail(where, key, "true or false", value)
    return value


def obj(data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    """``data[key]`` as an object (empty when absent)."""
    value = data.get(key, {})
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise fail(where, key, "an object", value)
    return value


def array(data: Mapping[str, Any], key: str, where: str) -> list[Any]:
    """``data[key]`` as an array (empty when absent)."""
    value = data.get(key, [])
    if not isinstance(value, list):
        raise fail(where, key, "an array", value)
    return value


def strings(data: Mapping[str, Any], key: str, where: str) -> list[str]:
    values = array(data, key, where)
    for index, value in enumerate(values):
        if not isinstance(value, str) or not value:
            raise fail(where, f"{key}[{index}]", "a non-empty string", value)
    return values


def config_schema(value: Any, where: str) -> dict[str, Any]:
    """A particle's ``config_schema``: a JSON Schema object whose ``properties`` map names to schema objects."""
    check_schema(value, where, "config_schema")
    return value


def check_schema(node: Any, where: str, field: str) -> None:
    """The JSON Schema keywords that tools read must have the types JSON Schema gives them.

    It recurses once per nesting level, which the JSON parser has already bounded.
    """
    if isinstance(node, bool) and field != "config_schema":
        return  # true / false are valid subschemas
    if not isinstance(node, dict):
        raise fail(where, field, "a JSON Schema object", node)
    kind = node.get("type")
    if not (
        kind is None or isinstance(kind, str) or (isinstance(kind, list) and all(isinstance(k, str) for k in kind))
    ):
        raise fail(where, f"{field}.type", "a string or an array of strings", kind)
    for key in _TEXT_KEYS:
        if key in node and not isinstance(node[key], str):
            raise fail(where, f"{field}.{key}", "a string", node[key])
    if "required" in node:
        required = node["required"]
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            raise fail(where, f"{field}.required", "an array of strings", required)
    if "enum" in node and not isinstance(node["enum"], list):
        raise fail(where, f"{field}.enum", "an array", node["enum"])
    for key in _SCHEMA_MAP_KEYS:
        if key in node:
            members = node[key]
            if not isinstance(members, dict):
                raise fail(where, f"{field}.{key}", "an object mapping names to JSON Schema objects", members)
            for name, member in members.items():
                if key == "properties" and not isinstance(member, dict):
                    raise fail(where, f"{field}.properties.{name}", "a JSON Schema object", member)
                check_schema(member, where, f"{field}.{key}.{name}")
    for key in _SCHEMA_LIST_KEYS:
        if key in node:
            options = node[key]
            if not isinstance(options, list):
                raise fail(where, f"{field}.{key}", "an array of JSON Schema objects", options)
            for index, option in enumerate(options):
                check_schema(option, where, f"{field}.{key}[{index}]")
    for key in _SCHEMA_KEYS:
        if key == "items" and isinstance(node.get(key), list):  # draft-04 tuple form
            for index, option in enumerate(node[key]):
                check_schema(option, where, f"{field}.items[{index}]")
        elif key in node:
            check_schema(node[key], where, f"{field}.{key}")
