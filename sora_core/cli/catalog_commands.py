"""``sora list`` and ``sora info``: static metadata only, no torch import."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sora_core import registry
from sora_core.cli.output import print_fields, print_json, print_table, warn
from sora_core.metadata import ParticleInfo
from sora_core.ports import PortSpec


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
    if args.json:
        print_json(info.to_dict())
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
    _print_ports("inputs", info.inputs)
    _print_ports("outputs", info.outputs)
    _print_config(info)
    return 0


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
    rows = [
        (
            field,
            _schema_type(schema),
            repr(info.default_config.get(field, schema.get("default"))),
            schema.get("description", ""),
        )
        for field, schema in properties.items()
    ]
    print_table("config", ("FIELD", "TYPE", "DEFAULT", "DESCRIPTION"), rows, plain_title=True)


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
