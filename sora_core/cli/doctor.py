"""``sora doctor``: import every plugin and report what is broken, and why."""

from __future__ import annotations

import argparse
import platform
from typing import Any

from sora_core import __version__, registry
from sora_core.cli.output import print_json, print_table
from sora_core.discovery_cache import default_cache_dir
from sora_core.errors import SoraError
from sora_core.naming import collisions


def add_commands(commands: Any) -> None:
    parser = commands.add_parser("doctor", help="check every installed plugin and report problems")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run_doctor)


def diagnose() -> dict[str, Any]:
    """Import every particle and hook module; collect every problem with its reason."""
    import torch

    from sora_core.manifest_builder import stale_manifests

    reg = registry.default_registry
    problems = [p.to_dict() for p in reg.catalog.problems]
    particles = registry.list()
    problems += [p.to_dict() for p in reg.plugin_manager().problems]
    known_kinds = reg.kinds()
    for info in particles:
        try:
            reg.get_class(info.full_name)
        except SoraError as exc:
            problems.append({"plugin": info.dist, "particle": info.name, "reason": exc.message, "hint": exc.hint})
            continue
        if info.kind not in known_kinds:
            problems.append(
                {
                    "plugin": info.dist,
                    "particle": info.name,
                    "reason": f"kind {info.kind!r} is neither built in nor contributed by any installed plugin",
                    "hint": "install the plugin that defines the kind, or contribute it with sora_register_kinds",
                }
            )
    for dist in sorted({info.dist for info in particles}):
        try:
            stale = stale_manifests(dist)
        except SoraError:
            continue  # the import failure is already reported above
        problems += [
            {"plugin": dist, "particle": None, "reason": s, "hint": f"run `sora manifest {dist} --write`"}
            for s in stale
        ]
    return {
        "sora_core": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cache": str(default_cache_dir() or "disabled"),
        "plugins": len({info.dist for info in particles}),
        "particles": len(particles),
        "collisions": collisions(particles),
        "problems": problems,
    }


def run_doctor(args: argparse.Namespace) -> int:
    report = diagnose()
    if args.json:
        print_json(report)
        return 1 if report["problems"] else 0
    print(
        f"sora-core {report['sora_core']}, Python {report['python']}, torch {report['torch']}; "
        f"{report['particles']} particles from {report['plugins']} plugins; cache: {report['cache']}"
    )
    for short, full in report["collisions"].items():
        print(f"note: short name {short!r} is ambiguous ({', '.join(full)}): use the full name")
    if not report["problems"]:
        print("no problems found")
        return 0
    rows = [
        (p["plugin"] + (f":{p['particle']}" if p["particle"] else ""), p["reason"], p["hint"] or "")
        for p in report["problems"]
    ]
    print_table(f"{len(rows)} problems", ("PLUGIN", "PROBLEM", "FIX"), rows)
    return 1
