"""``sora load NAME``: build a particle (fresh or from weights) and summarise it."""

from __future__ import annotations

import argparse
import json
from typing import Any

from sora_core import registry
from sora_core.cli.output import print_fields, print_json
from sora_core.errors import ConfigError


def add_commands(commands: Any) -> None:
    parser = commands.add_parser(
        "load", help="build a particle, from its default or given weights or fresh with --set, and summarise it"
    )
    parser.add_argument("name", help="a particle name: dist:name, or a short name while unique")
    parser.add_argument("--weights", help="a directory written by save_pretrained (default: the plugin's weights)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config value (fresh particle)",
    )
    parser.add_argument("--dtype", help="convert floating weights, e.g. float16")
    parser.add_argument("--device", help="e.g. cpu or cuda")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run_load)


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; values are JSON when they parse as JSON, strings otherwise."""
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {pair!r} is not KEY=VALUE", "write e.g. --set hidden_size=128")
        try:
            values[key] = json.loads(raw)
        except json.JSONDecodeError:
            values[key] = raw
    return values


def run_load(args: argparse.Namespace) -> int:
    overrides = parse_overrides(args.overrides)
    info = registry.info(args.name)
    if overrides and args.weights:
        raise ConfigError("--set cannot change a particle loaded from --weights", "weights carry their own config.json")
    if args.weights or (info.default_weights and not overrides):
        particle = registry.load(info.full_name, weights=args.weights, device=args.device, dtype=args.dtype)
        source = str(args.weights or info.default_weights)
    else:
        particle = registry.create(info.full_name, **overrides)
        source = "fresh (random initialisation)"
    summary = _summary(particle, info.full_name, source)
    if args.json:
        print_json(summary)
    else:
        print_fields([(k, str(v)) for k, v in summary.items()])
    return 0


def _summary(particle: Any, name: str, source: str) -> dict[str, Any]:
    tensors = list(particle.state_dict().values()) if hasattr(particle, "state_dict") else []
    return {
        "name": name,
        "kind": particle.kind,
        "class": f"{type(particle).__module__}.{type(particle).__qualname__}",
        "weights": source,
        "parameters": sum(t.numel() for t in tensors),
        "dtypes": sorted({str(t.dtype).removeprefix("torch.") for t in tensors}),
        "config": particle.config.model_dump(mode="json"),
    }
