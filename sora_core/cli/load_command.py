"""``sora load NAME``: build a particle (fresh or from weights) and summarise it."""

from __future__ import annotations

import argparse
import json
from typing import Any

from sora_core import registry
from sora_core.cli.output import print_fields, print_json
from sora_core.errors import ConfigError
from sora_core.limits import create_particle


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
        except RecursionError:
            raise ConfigError(f"--set {key}: the value is nested too deeply", "write a plainer value") from None
    return values


def run_load(args: argparse.Namespace) -> int:
    overrides = parse_overrides(args.overrides)
    dtype, device = _placement(args.dtype, args.device)
    info = registry.info(args.name)
    if overrides and args.weights:
        raise ConfigError("--set cannot change a particle loaded from --weights", "weights carry their own config.json")
    if args.weights or (info.default_weights and not overrides):
        particle = registry.load(info.full_name, weights=args.weights, device=device, dtype=dtype)
        source = str(args.weights or info.default_weights)
    else:
        particle = _placed(create_particle(registry.default_registry, info.full_name, overrides), dtype, device)
        source = "fresh (random initialisation)"
    summary = _summary(particle, info.full_name, source)
    if args.json:
        print_json(summary)
    else:
        print_fields([(k, str(v)) for k, v in summary.items()])
    return 0


def _placement(dtype: str | None, device: str | None) -> tuple[Any, Any]:
    """``--dtype`` and ``--device`` checked before anything is built: a floating dtype, a device this machine has."""
    from sora_core.limits import check_device
    from sora_core.weights import resolve_dtype

    resolved = None
    if dtype is not None:
        try:
            resolved = resolve_dtype(dtype)
        except ConfigError as exc:
            raise ConfigError(f"--dtype {dtype}: {exc.message}", exc.hint) from None
    return resolved, check_device(device, "--device") if device is not None else None


def _placed(particle: Any, dtype: Any, device: Any) -> Any:
    """A fresh particle moved and cast as ``--device``/``--dtype`` ask; refused for one without tensors."""
    if dtype is None and device is None:
        return particle
    flags = " and ".join(f for f, v in (("--dtype", dtype), ("--device", device)) if v is not None)
    if not hasattr(particle, "to") or not list(particle.state_dict().values()):
        raise ConfigError(
            f"{flags}: particle {particle.registered_name} holds no tensors to cast or move", f"drop {flags}"
        )
    try:
        return particle.to(device=device, dtype=dtype)
    except (RuntimeError, MemoryError) as exc:
        raise ConfigError(f"{flags}: cannot place {particle.registered_name}: {exc}", "try another device") from None


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
