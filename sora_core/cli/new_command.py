"""``sora new NAME --kind KIND``: scaffold a particle plugin package that passes its own tests."""

from __future__ import annotations

import argparse
import os
import shlex
from pathlib import Path
from typing import Any

from sora_core.kinds import BUILTIN_KINDS
from sora_core.scaffold import DEFAULT_LICENSE, SUPPORTED_LICENSES


def add_commands(commands: Any) -> None:
    parser = commands.add_parser(
        "new",
        help="scaffold a particle plugin: pyproject, particle, manifest, README, licence and tests",
        description=(
            "Create a plugin project NAME/ with one working particle of KIND: pyproject.toml with the "
            "sora.particles entry point, the particle module (config, ports, forward), its generated "
            "sora_manifest.json, README.md, LICENSE, .gitignore and tests that run the conformance kit."
        ),
    )
    parser.add_argument("name", metavar="NAME", help="the distribution name, e.g. my-blur (package my_blur)")
    parser.add_argument(
        "--kind", required=True, metavar="KIND", help="the particle's kind: " + ", ".join(sorted(BUILTIN_KINDS))
    )
    parser.add_argument("--dir", metavar="PATH", help="the project directory to create (default: ./NAME)")
    parser.add_argument("--particle", metavar="NAME", help="the particle's short name (default: the distribution's)")
    parser.add_argument(
        "--author",
        metavar="'NAME <EMAIL>'",
        help="the project's author (default: git's user.name and user.email; '' for none)",
    )
    parser.add_argument(
        "--license",
        default=DEFAULT_LICENSE,
        metavar="SPDX",
        help=f"the licence, one of {', '.join(SUPPORTED_LICENSES)} (default {DEFAULT_LICENSE})",
    )
    parser.add_argument("--description", metavar="TEXT", help="a one-line summary for pyproject.toml and README")
    parser.add_argument(
        "--force",
        action="store_true",
        help="write into a non-empty directory, replacing the generated files (other files are kept)",
    )
    parser.set_defaults(run=run_new)


def run_new(args: argparse.Namespace) -> int:
    from sora_core.scaffold import plan_plugin, write_plugins

    plan = plan_plugin(
        args.name,
        args.kind,
        directory=args.dir,
        particle=args.particle,
        author=args.author,
        license=args.license,
        description=args.description,
        force=args.force,
    )
    write_plugins([plan])
    shown = _shown(plan.directory)
    print(f"created {shown}: particle {plan.full_name} ({plan.kind}), class {plan.entry_point}")
    for path in plan.paths():
        print(f"  {Path(shown, path).as_posix()}")
    print("next:")
    print(f"  cd {shlex.quote(shown)}")
    print('  pip install -e ".[test]"')
    print(f"  sora list '{plan.canonical}:*'")
    print("  pytest")
    return 0


def _shown(directory: Path) -> str:
    """``directory`` relative to the working directory when it is below it, else absolute."""
    try:
        return os.path.relpath(directory) if directory.is_relative_to(Path.cwd()) else str(directory)
    except ValueError:
        return str(directory)
