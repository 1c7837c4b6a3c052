"""``sora list`` and ``sora info``: static metadata only, no torch import."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sora_core import registry
from sora_core.cli.output import print_fields, print_json, print_table, warn
from sora_core.metadata import ParticleInfo
from sora_core.ports import PortSpec

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (about 3 ms of `sora list`)
if TYPE_CHECKING:
    from typing import Any


def add_commands(commands: Any) -> None:
    parser = commands.add_parser("list", help="list the installed particles")
    parser.add_argument("pattern", nargs="?", help="name filter with * and ? wildcards (full or short name)")
    parser.add_argument("--kind", help="only particles of this kind (wildcards allowed)")
    parser.add_argument("--space", help="only particles with a port in this space (wildcards allowed)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run_list)

    parser = commands.add_parser("info", help="describe one particle: kind, ports, config, weights")
    parser.add_argument("name", help="a particle name: dist:name, or a short name while unique")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run_info)


def run_list(args: argparse.Namespace) -> int:
    particles = registry.list(kind=args.kind, space=args.space, pattern=args.pattern)
    problems = registry.problems()
    if args.json:
        print_json({"particles": [p.to_dict() for p in particles], "problems": [p.to_dict() for p in problems]})
        return 0
    rows = [
        (p.full_name, p.kind, _ports_summary(p.inputs), _ports_summary(p.outputs), p.description) for p in particles
    ]
    if rows:
        print_table(f"{len(particles)} particles", ("NAME", "KIND", "INPUTS", "OUTPUTS", "DESCRIPTION"), rows)
    else:
        sys.stdout.write(_nothing_listed(args) + "\n")
    for problem in problems:
        warn(f"{problem.subject} is broken: {problem.reason} (run `sora doctor`)")
    return 0


def _nothing_listed(args: argparse.Namespace) -> str:
    """Why ``sora list`` shows no particle: none installed, or none matching its filters."""
    asked = [repr(args.pattern)] if args.pattern else []
    asked += [f"--{flag} {value}" for flag, value in (("kind", args.kind), ("space", args.space)) if value]
    if asked:
        installed = len(registry.list())
        return f"no particles match {' '.join(asked)} ({installed} installed; `sora list` shows them all)"
    return "no particles installed: install a plugin (`sora install NAME`, `pip install ...`) or write one (`sora new`)"


def run_info(args: argparse.Namespace) -> int:
    info = registry.info(args.name)
    weights_ports = default_weights_ports(info)
    if args.json:
        data = info.to_dict()
        data["default_weights_ports"] = (
            {side: {k: v.to_dict() for k, v in ports.items()} for side, ports in weights_ports.items()}
            if weights_ports
            else None
        )
        print_json(data)
        return 0
    print_fields(
        [
            ("name", info.full_name),
            ("kind", info.kind),
            ("description", info.description or "-"),
            ("distribution", f"{info.dist} {info.dist_version}".strip()),
            ("entry point", info.entry_point or "-"),
            ("default weights", _default_weights_text(info)),
        ]
    )
    if weights_ports is None:
        _print_ports("inputs", info.inputs)
        _print_ports("outputs", info.outputs)
    else:  # what `registry.load(NAME)` and a template's `weights: default` build, and what a fresh one reads
        _print_ports("inputs (as its default weights load it)", weights_ports["inputs"])
        _print_ports("outputs (as its default weights load it)", weights_ports["outputs"])
        changed = [
            f"{name} {spec}"
            for side, ports in (("inputs", info.inputs), ("outputs", info.outputs))
            for name, spec in ports.items()
            if weights_ports[side].get(name) != spec
        ]
        sys.stdout.write(f"\nfresh (create(), default config): {'; '.join(changed)}\n")
    _print_config(info)
    return 0


def default_weights_ports(info: ParticleInfo) -> dict[str, dict[str, PortSpec]] | None:
    """The ports of the config ``info``'s default weights load, when they differ from its default config's.

    ``sora manifest --write`` records them in the plugin's manifest (``default_weights_ports``); they are read
    from there, so ``sora info`` stays torch-free. ``None`` when the manifest records none.
    """
    from sora_core.errors import ManifestError, SoraError
    from sora_core.manifest import load_manifest_json
    from sora_core.manifest_fields import REGENERATE

    if not info.default_weights or not info.entry_point:
        return None
    path = _manifest_of(info.entry_point.split(":")[0].split(".")[0])
    try:
        data = load_manifest_json(path) if path is not None else None
    except SoraError:
        return None  # listing has reported it
    particles = data.get("particles") if isinstance(data, dict) else None
    entry = particles.get(info.name) if isinstance(particles, dict) else None
    recorded = entry.get("default_weights_ports") if isinstance(entry, dict) else None
    if recorded is None:
        return None
    where = f"manifest {path}, particle {info.name!r}, field 'default_weights_ports'"
    try:
        return {side: {k: PortSpec.from_dict(v) for k, v in recorded[side].items()} for side in ("inputs", "outputs")}
    except (SoraError, KeyError, TypeError, AttributeError) as exc:
        reason = exc.message if isinstance(exc, SoraError) else "must hold 'inputs' and 'outputs' port objects"
        raise ManifestError(f"{where}: {reason}", REGENERATE) from None


def _manifest_of(package: str) -> Path | None:
    """The ``sora_manifest.json`` beside top-level package ``package``, found without importing it."""
    import importlib.util

    from sora_core.manifest import MANIFEST_NAME

    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)), MANIFEST_NAME)


def _ports_summary(ports: dict[str, PortSpec]) -> str:
    return ", ".join(f"{name}[{spec.shape}]" for name, spec in ports.items())


def _print_ports(title: str, ports: dict[str, PortSpec]) -> None:
    rows = [
        (
            name,
            spec.dtype,
            spec.shape or "(scalar)",
            spec.space or "any",
            "yes" if spec.optional else "",
            spec.description,
        )
        for name, spec in ports.items()
    ]
    print_table(title, ("PORT", "DTYPE", "SHAPE", "SPACE", "OPTIONAL", "DESCRIPTION"), rows, plain_title=True)


def _print_config(info: ParticleInfo) -> None:
    properties = info.config_schema.get("properties", {})
    saved = _default_weights_config(info)
    rows = [
        (
            field,
            _schema_type(schema),
            repr(info.default_config.get(field, schema.get("default"))),
            *([_short(repr(saved[field])) if field in saved else "-"] if saved else []),
            schema.get("description", ""),
        )
        for field, schema in properties.items()
    ]
    headers = ("FIELD", "TYPE", "DEFAULT", *(["DEFAULT WEIGHTS"] if saved else []), "DESCRIPTION")
    print_table("config", headers, rows, plain_title=True)


def _short(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _default_weights_config(info: ParticleInfo) -> dict[str, Any]:
    """The config a particle's default weights were saved with, when it differs from its default config.

    Read from the folder's ``config.json`` without torch; empty for no default weights, for the same config, and
    for a folder of another library's format (whose config is the plugin's to read).
    """
    from sora_core.errors import SoraError
    from sora_core.safetensors_io import read_config

    if not info.default_weights:
        return {}
    try:
        saved = read_config(info.default_weights).get("config")
    except (SoraError, OSError, ValueError):
        return {}
    if not isinstance(saved, dict) or all(info.default_config.get(k) == v for k, v in saved.items()):
        return {}
    return saved


def _schema_type(schema: dict[str, Any]) -> str:
    if "type" in schema:
        return str(schema["type"])
    options = schema.get("anyOf") or schema.get("oneOf") or []
    return " | ".join(str(o.get("type", o.get("$ref", "?"))) for o in options) or "?"


def _default_weights_text(info: ParticleInfo) -> str:
    if info.default_weights:
        return info.default_weights
    if info.pretrained_on_create:
        return "pretrained: create() and load() build it from weights it finds installed"
    return "none (create() initialises randomly)"
